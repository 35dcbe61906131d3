// Draw each [data-chart] with the vendored ECharts; a click opens the list behind the bar/slice/day.
(function () {
  var colors = ["#b71c1c", "#e57373", "#ff8a65", "#ffb74d", "#81c784", "#64b5f6", "#9575cd", "#a1887f"];
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var spec = JSON.parse(el.getAttribute("data-chart"));
    if (!spec.values.length) { el.style.display = "none"; return; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    var option;
    if (spec.kind === "pie") {
      option = {
        color: colors, tooltip: { trigger: "item" },
        series: [{ type: "pie", radius: ["35%", "65%"],
                   data: spec.labels.map(function (l, i) { return { name: l, value: spec.values[i] }; }) }]
      };
    } else {
      option = {
        color: colors, tooltip: { trigger: "axis" },
        grid: { left: 40, right: 12, top: 16, bottom: spec.kind === "bar" ? 70 : 30 },
        xAxis: { type: "category", data: spec.labels,
                 axisLabel: { rotate: spec.kind === "bar" ? 35 : 0, fontSize: 10 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: spec.kind, data: spec.values }]
      };
    }
    chart.setOption(option);
    el.setAttribute("data-drawn", "1");
    chart.on("click", function (p) {
      var href = spec.links[p.dataIndex];
      if (href) { window.location.href = href; }
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
