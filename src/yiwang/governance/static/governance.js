// Governance pages: streamed upload with a real progress bar, then the load's progress (HTMX polling);
// the quality trend and the lineage graph (ECharts, served locally).
(function () {
  function csrf() { var m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ""; }

  function upload(form) {
    var file = form.querySelector('input[type=file]').files[0];
    var status = document.getElementById("upload-status");
    var bar = document.querySelector("#upload-progress > span");
    if (!file) { return; }
    var name = form.querySelector('[name=resource]').value;
    var params = new URLSearchParams({ filename: file.name, mode: form.querySelector('[name=mode]').value });
    ["encoding", "sheet"].forEach(function (k) {
      var el = form.querySelector('[name=' + k + ']'); if (el && el.value) { params.set(k, el.value); }
    });
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/governance/resources/" + encodeURIComponent(name) + "/loads?" + params.toString());
    xhr.setRequestHeader("X-CSRF-Token", csrf());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    document.getElementById("upload-progress").hidden = false;
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        var pct = Math.round(100 * e.loaded / e.total);
        bar.style.width = pct + "%";
        status.textContent = form.dataset.uploading.replace("{pct}", pct);
      }
    };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = { detail: xhr.responseText }; }
      if (xhr.status === 202) {
        bar.style.width = "100%";
        status.textContent = form.dataset.queued;
        var box = document.getElementById("load-progress");
        box.setAttribute("hx-get", "/workspace/governance/loads/" + body.id + "/progress");
        box.setAttribute("hx-trigger", "load");
        box.setAttribute("hx-swap", "innerHTML");
        htmx.process(box);
      } else {
        status.className = "alert error";
        var where = [body.file, body.line, body.column].filter(function (x) { return x; }).join(" · ");
        status.textContent = (body.detail || body.message || xhr.status) + (where ? " (" + where + ")" : "");
      }
    };
    xhr.onerror = function () { status.className = "alert error"; status.textContent = form.dataset.failed; };
    xhr.send(file);
  }

  function charts() {
    if (typeof echarts === "undefined") { return; }
    var trend = document.getElementById("quality-trend");
    if (trend) {
      var rows = JSON.parse(trend.dataset.rows || "[]");
      var labels = JSON.parse(trend.dataset.labels || "{}");
      var chart = echarts.init(trend);
      var dims = ["overall", "completeness", "validity", "uniqueness", "consistency"];
      chart.setOption({
        animation: false,
        tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "—" : (v * 100).toFixed(2) + "%"; } },
        legend: { data: dims.map(function (d) { return labels[d] || d; }) },
        grid: { left: 50, right: 20, top: 40, bottom: 40 },
        xAxis: { type: "category", data: rows.map(function (r) { return r.at || ""; }) },
        yAxis: { type: "value", min: function (v) { return Math.max(0, Math.floor(v.min * 20) / 20); }, max: 1,
                 axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } },
        series: dims.map(function (d) {
          return { name: labels[d] || d, type: "line", smooth: true, connectNulls: true,
                   lineStyle: { width: d === "overall" ? 3 : 1.5 }, data: rows.map(function (r) { return r[d]; }) };
        })
      });
      window.addEventListener("resize", function () { chart.resize(); });
    }
    var graph = document.getElementById("lineage-graph");
    if (graph) {
      var g = JSON.parse(graph.dataset.graph || "{}");
      var colours = { file: "#7a8699", raw: "#5b6b82", clean: "#2e8b57", share: "#1552a8", quarantine: "#d98c0b", job: "#c8322c" };
      var cats = JSON.parse(graph.dataset.categories || "{}");
      var order = ["file", "job", "raw", "clean", "share", "quarantine"];
      var chartG = echarts.init(graph);
      var perLayer = {}, sizes = {};
      (g.nodes || []).forEach(function (n) { sizes[n.layer] = (sizes[n.layer] || 0) + 1; });
      var data = (g.nodes || []).map(function (n) {
        var i = perLayer[n.layer] = (perLayer[n.layer] || 0) + 1;
        return { id: n.id, name: n.name, x: n.layer * 260, y: (i - (sizes[n.layer] + 1) / 2) * 90, category: order.indexOf(n.kind),
                 symbolKeepAspect: true,
                 symbol: n.kind === "job" ? "roundRect" : "circle", symbolSize: n.kind === "job" ? 20 : 28,
                 label: { show: true, position: n.layer === 0 ? "left" : (n.layer >= 3 ? "right" : "top"), fontSize: 12 } };
      });
      chartG.setOption({
        animation: false,
        tooltip: { formatter: function (p) { return p.dataType === "node" ? p.data.name : ""; } },
        legend: [{ bottom: 0, data: order.map(function (k) { return cats[k] || k; }) }],
        series: [{
          type: "graph", layout: "none", roam: true, top: 50, bottom: 60, left: 190, right: 200, aspectScale: 1, preserveAspect: true,
          edgeSymbol: ["none", "arrow"], edgeSymbolSize: 9,
          categories: order.map(function (k) { return { name: cats[k] || k, itemStyle: { color: colours[k] } }; }),
          data: data,
          links: (g.edges || []).map(function (e) { return { source: e.source, target: e.target }; }),
          lineStyle: { color: "#9aa7b8", width: 1.6, curveness: 0.15 },
          emphasis: { focus: "adjacency", lineStyle: { width: 3 } }
        }]
      });
      window.addEventListener("resize", function () { chartG.resize(); });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("upload-form");
    if (form) { form.addEventListener("submit", function (e) { e.preventDefault(); upload(form); }); }
    charts();
  });
})();
