// Catalog dashboard charts (Apache ECharts, served locally). Data comes from data-rows attributes.
document.addEventListener("DOMContentLoaded", function () {
  if (!window.echarts) { return; }
  var palette = ["#1552a8", "#2e8b57", "#d98c0b", "#c8322c", "#6a5acd", "#17a2b8", "#8a5a00", "#5cc8ff", "#999"];
  var charts = [];

  function rows(el) { return JSON.parse(el.dataset.rows || "[]"); }
  function init(id, option) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var chart = echarts.init(el);
    chart.setOption(Object.assign({ color: palette, textStyle: { fontFamily: "inherit" } }, option(rows(el))));
    charts.push(chart);
    el.dataset.ready = "1";
  }
  function bars(data, label, value) {
    var sorted = data.slice().sort(function (a, b) { return a[value] - b[value]; });
    return {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 10, right: 30, top: 10, bottom: 10, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: sorted.map(function (r) { return label(r); }) },
      series: [{ type: "bar", data: sorted.map(function (r) { return r[value]; }), barMaxWidth: 18,
                 label: { show: true, position: "right" }, itemStyle: { color: "#1552a8", borderRadius: [0, 3, 3, 0] } }]
    };
  }
  function pie(data) {
    return {
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      series: [{ type: "pie", radius: ["30%", "52%"], center: ["50%", "50%"], data: data, minShowLabelAngle: 3,
                 label: { formatter: "{b}\n{c}", overflow: "none" }, itemStyle: { borderColor: "#fff", borderWidth: 2 } }]
    };
  }

  init("chart-departments", function (data) {
    return {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 10, right: 10, top: 20, bottom: 10, containLabel: true },
      xAxis: { type: "category", data: data.map(function (r) { return r.name; }), axisLabel: { interval: 0, rotate: 45 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", data: data.map(function (r) { return r.count; }), barMaxWidth: 22,
                 label: { show: true, position: "top" }, itemStyle: { color: "#1552a8", borderRadius: [3, 3, 0, 0] } }]
    };
  });
  init("chart-classes", function (data) { return bars(data, function (r) { return r.label; }, "count"); });
  init("chart-share", pie);
  init("chart-open", pie);
  init("chart-cycle", pie);
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
});
