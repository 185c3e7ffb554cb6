// Cockpit landing charts: approximate town areas of Kunshan coloured by grids, and grids per town.
document.addEventListener("DOMContentLoaded", function () {
  var mapEl = document.getElementById("city-map");
  if (mapEl && window.echarts) {
    fetch("/api/v1/org/geo/outline?level=town").then(function (r) { return r.json(); }).then(function (geo) {
      echarts.registerMap("kunshan-towns", geo);
      var towns = JSON.parse(mapEl.dataset.towns || "[]");
      var max = Math.max.apply(null, towns.map(function (t) { return t.grids; }).concat([1]));
      var chart = echarts.init(mapEl, null, { renderer: "canvas" });
      chart.setOption({
        tooltip: { trigger: "item", formatter: function (p) {
          var t = towns.find(function (x) { return x.name === p.name; }) || {};
          return p.name + "<br>" + (mapEl.dataset.lvillages || "villages") + ": " + (t.villages || 0) +
                 "<br>" + (mapEl.dataset.lgrids || "grids") + ": " + (t.grids || 0);
        } },
        visualMap: { min: 0, max: max, calculable: true, left: 10, bottom: 10, textStyle: { color: "#dce8ff" },
                     inRange: { color: ["#12345f", "#2a6fb0", "#5cc8ff"] } },
        series: [{ type: "map", map: "kunshan-towns", roam: true, label: { show: true, color: "#fff", fontSize: 11 },
                   itemStyle: { borderColor: "#071a33" }, emphasis: { label: { color: "#fff" }, itemStyle: { areaColor: "#ffb347" } },
                   data: towns.map(function (t) { return { name: t.name, value: t.grids }; }) }]
      });
      window.addEventListener("resize", function () { chart.resize(); });
      mapEl.dataset.ready = "1";
    });
  }
  var gridEl = document.getElementById("grid-chart");
  if (gridEl && window.echarts) {
    var towns = JSON.parse(gridEl.dataset.towns || "[]");
    var c = echarts.init(gridEl);
    c.setOption({
      tooltip: {}, grid: { left: 110, right: 20, top: 10, bottom: 30 },
      xAxis: { type: "value", axisLabel: { color: "#8fa8cc" }, splitLine: { lineStyle: { color: "#17365f" } } },
      yAxis: { type: "category", data: towns.map(function (t) { return t.name; }), axisLabel: { color: "#dce8ff" } },
      series: [{ type: "bar", data: towns.map(function (t) { return t.grids; }), itemStyle: { color: "#5cc8ff" } }]
    });
    gridEl.dataset.ready = "1";
  }
});
