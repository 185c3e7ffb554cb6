// Event center pages: the map of open cases, the point picker of the report form, statistics charts.
(function () {
  var COLORS = { green: "#2e8b57", yellow: "#e0a800", red: "#c8322c" };
  var geoReady = null;
  function townsGeo() {
    if (!geoReady) {
      geoReady = fetch("/api/v1/org/geo/outline?level=town").then(function (r) { return r.json(); })
        .then(function (geo) { echarts.registerMap("kunshan-towns", geo); return geo; });
    }
    return geoReady;
  }
  function baseGeo(extra) {
    return Object.assign({ map: "kunshan-towns", roam: true, label: { show: true, color: "#3a4657", fontSize: 11 },
      itemStyle: { areaColor: "#eef3fb", borderColor: "#9fb3d1" }, emphasis: { itemStyle: { areaColor: "#dce8fb" } } }, extra || {});
  }

  function caseMap(el) {
    Promise.all([townsGeo(), fetch(el.dataset.url).then(function (r) { return r.json(); })]).then(function (res) {
      var points = res[1];
      var chart = echarts.init(el);
      var series = ["green", "yellow", "red"].map(function (level) {
        return { name: el.dataset["l" + level] || level, type: "scatter", coordinateSystem: "geo", symbolSize: level === "red" ? 8 : 6,
          itemStyle: { color: COLORS[level], opacity: 0.8 },
          data: points.filter(function (p) { return p.warn === level; }) };
      });
      chart.setOption({
        tooltip: { trigger: "item", formatter: function (p) { return p.data ? p.data.number + "<br>" + p.data.category : p.name; } },
        legend: { bottom: 0 }, geo: baseGeo(), series: series
      });
      chart.on("click", function (p) { if (p.data && p.data.id) { window.location = "/workspace/events/cases/" + p.data.id; } });
      window.addEventListener("resize", function () { chart.resize(); });
      el.dataset.points = String(points.length);
      el.dataset.ready = "1";
    }).catch(function (e) { el.dataset.error = String(e); });
  }

  function pickMap(el) {
    var lat = document.getElementById("lat"), lng = document.getElementById("long");
    townsGeo().then(function () {
      var chart = echarts.init(el);
      function draw() {
        var data = lat.value && lng.value ? [{ name: el.dataset.picked, value: [parseFloat(lng.value), parseFloat(lat.value)] }] : [];
        chart.setOption({ geo: baseGeo({ label: { show: true, fontSize: 10, color: "#6b7686" } }),
          series: [{ type: "effectScatter", coordinateSystem: "geo", symbolSize: 12, itemStyle: { color: "#c8322c" }, data: data }] });
      }
      draw();
      chart.getZr().on("click", function (e) {
        var xy = chart.convertFromPixel("geo", [e.offsetX, e.offsetY]);
        if (xy) { lng.value = xy[0].toFixed(6); lat.value = xy[1].toFixed(6); draw(); }
      });
      [lat, lng].forEach(function (i) { i.addEventListener("change", draw); });
      var me = document.getElementById("locate-me");
      if (me && navigator.geolocation) {
        me.addEventListener("click", function () {
          navigator.geolocation.getCurrentPosition(function (pos) {
            lat.value = pos.coords.latitude.toFixed(6); lng.value = pos.coords.longitude.toFixed(6); draw();
          });
        });
      }
      el.dataset.ready = "1";
    }).catch(function (e) { el.dataset.error = String(e); });
  }

  function rows(el) { return JSON.parse(el.dataset.rows || "[]"); }
  function bar(el, nameKey, horizontal) {
    var r = rows(el), chart = echarts.init(el);
    var names = r.map(function (x) { return x[nameKey]; }), values = r.map(function (x) { return x.count; });
    if (horizontal) { names.reverse(); values.reverse(); }
    chart.setOption({ animation: false, tooltip: {}, grid: { left: horizontal ? 110 : 40, right: 20, top: 10, bottom: 30 },
      xAxis: horizontal ? { type: "value" } : { type: "category", data: names },
      yAxis: horizontal ? { type: "category", data: names } : { type: "value" },
      series: [{ type: horizontal ? "bar" : "line", data: values, smooth: true, areaStyle: horizontal ? null : { opacity: 0.15 },
                 itemStyle: { color: "#1552a8" } }] });
    el.dataset.ready = "1";
  }
  function pie(el) {
    var r = rows(el), labels = JSON.parse(el.dataset.labels || "{}"), chart = echarts.init(el);
    chart.setOption({ animation: false, tooltip: { trigger: "item" }, legend: { type: "scroll", bottom: 0 },
      series: [{ type: "pie", radius: ["35%", "62%"], center: ["50%", "45%"], label: { formatter: "{b}\n{d}%" }, data: r.map(function (x) { return { name: labels[x.channel] || x.channel, value: x.count }; }) }] });
    el.dataset.ready = "1";
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.echarts) { return; }
    var m = document.getElementById("case-map"); if (m) { caseMap(m); }
    var p = document.getElementById("pick-map"); if (p) { pickMap(p); }
    var el;
    if ((el = document.getElementById("chart-month"))) { bar(el, "month", false); }
    if ((el = document.getElementById("chart-category"))) { bar(el, "name", true); }
    if ((el = document.getElementById("chart-town"))) { bar(el, "name", true); }
    if ((el = document.getElementById("chart-source"))) { pie(el); }
    var all = document.getElementById("select-all");
    if (all) { all.addEventListener("change", function () {
      document.querySelectorAll("#cases input[name=ids]").forEach(function (c) { c.checked = all.checked; }); }); }
  });
})();
