/* Insights charts: draws every <canvas data-insights-chart="ID"> from the JSON in
   <script type="application/json" id="ID"> (Django's json_script), with Chart.js
   served from our static files (no inline script, no network).

   Chart data shapes (built by insights/figures.py):
     bar:    {kind:"bar", labels:[…], datasets:[{label, data:[…], color | colors:[…]}],
              stacked?, horizontal?, format:"count"|"percent"|"minutes", xTitle?, yTitle?, max?}
     matrix: {kind:"matrix", xLabels:[…], yLabels:[…], cells:[{x, y, v}], max, label}

   After drawing, the canvas gets data-chart-state="drawn" (or "failed" /
   "unavailable"), which the browser test and styles use. The table under each
   chart holds the same numbers, so nothing is lost without JavaScript. */
(function () {
  "use strict";

  var canvases = document.querySelectorAll("canvas[data-insights-chart]");
  if (!canvases.length) return;
  if (typeof window.Chart === "undefined") {
    canvases.forEach(function (c) { c.setAttribute("data-chart-state", "unavailable"); });
    return;
  }
  var Chart = window.Chart;
  var styles = getComputedStyle(document.body);
  Chart.defaults.font.family = styles.fontFamily;
  Chart.defaults.color = "#5f6b7a";
  Chart.defaults.borderColor = "#e5e9ef";
  Chart.defaults.maintainAspectRatio = false;
  // Screenshots and people who asked for less motion get still charts.
  if (window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches) {
    Chart.defaults.animation = false;
  }

  function formatMinutes(m) {
    if (m === null || m === undefined) return "—";
    if (m < 60) return Math.round(m) + " min";
    var h = m / 60;
    if (h < 48) return (Math.round(h * 10) / 10) + " h";
    return (Math.round(h / 24 * 10) / 10) + " d";
  }

  function formatter(format) {
    if (format === "minutes") return formatMinutes;
    if (format === "hours") return function (v) { return v === null ? "—" : v + " h"; };
    if (format === "percent") return function (v) { return v === null ? "—" : v + "%"; };
    return function (v) { return v; };
  }

  // Horizontal bars: room for every category and its bars.
  function sizeBox(spec, canvas) {
    var box = canvas.parentElement;
    if (!box || !spec.horizontal) return;
    var perCategory = spec.stacked ? 30 : 10 + 9 * spec.datasets.length;
    box.style.height = Math.max(180, spec.labels.length * perCategory + 90) + "px";
  }

  function barConfig(spec) {
    var fmt = formatter(spec.format);
    var horizontal = !!spec.horizontal;
    var valueAxis = horizontal ? "x" : "y";
    var categoryAxis = horizontal ? "y" : "x";
    var scales = {};
    // Every category gets its label (the box grows with them, see sizeBox).
    scales[categoryAxis] = { stacked: !!spec.stacked, grid: { display: false }, ticks: { autoSkip: !horizontal } };
    scales[valueAxis] = {
      stacked: !!spec.stacked,
      beginAtZero: true,
      ticks: { callback: function (v) { return fmt(v); }, precision: spec.format === "count" ? 0 : undefined },
      title: { display: !!(spec.xTitle || spec.yTitle), text: spec.xTitle || spec.yTitle || "" }
    };
    if (spec.max) scales[valueAxis].max = spec.max;
    return {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (d) {
          return {
            label: d.label,
            data: d.data,
            backgroundColor: d.colors || d.color,
            borderRadius: 3,
            maxBarThickness: 42
          };
        })
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        scales: scales,
        plugins: {
          legend: { display: spec.datasets.length > 1, position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var v = horizontal ? ctx.parsed.x : ctx.parsed.y;
                return ctx.dataset.label + ": " + fmt(v);
              }
            }
          }
        }
      }
    };
  }

  // Blue scale from light to dark; 0 is almost white, so recurrence stands out.
  function heat(v, max) {
    if (!v) return "rgba(37, 87, 214, 0.04)";
    var t = max > 0 ? v / max : 0;
    return "rgba(37, 87, 214, " + (0.18 + 0.82 * t).toFixed(3) + ")";
  }

  var cellValues = {
    id: "insightsCellValues",
    afterDatasetsDraw: function (chart) {
      if (chart.config.type !== "matrix") return;
      var ctx = chart.ctx;
      var max = chart.options.plugins.insightsCellValues.max;
      chart.getDatasetMeta(0).data.forEach(function (element, index) {
        var raw = chart.data.datasets[0].data[index];
        if (!raw.v) return;
        var box = element.getProps(["x", "y", "width", "height"], true);
        ctx.save();
        ctx.fillStyle = raw.v / max > 0.55 ? "#ffffff" : "#1c2430";
        ctx.font = "600 12px " + Chart.defaults.font.family;
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.fillText(String(raw.v), box.x + box.width / 2, box.y + box.height / 2);
        ctx.restore();
      });
    }
  };

  function matrixConfig(spec, canvas) {
    var box = canvas.parentElement;
    if (box) box.style.height = Math.max(160, spec.yLabels.length * 30 + 70) + "px";
    var columns = spec.xLabels.length || 1;
    var rows = spec.yLabels.length || 1;
    return {
      type: "matrix",
      data: {
        datasets: [{
          label: spec.label,
          data: spec.cells,
          backgroundColor: function (ctx) { return heat(ctx.raw && ctx.raw.v, spec.max); },
          borderColor: "#ffffff",
          borderWidth: 1,
          width: function (ctx) { var a = ctx.chart.chartArea; return a ? a.width / columns - 2 : 10; },
          height: function (ctx) { var a = ctx.chart.chartArea; return a ? a.height / rows - 2 : 10; }
        }]
      },
      options: {
        responsive: true,
        scales: {
          x: { type: "category", labels: spec.xLabels, offset: true, grid: { display: false }, position: "top" },
          // Most frequent factor (the first label) at the top.
          y: { type: "category", labels: spec.yLabels, offset: true, reverse: false, grid: { display: false },
               ticks: { autoSkip: false } }
        },
        plugins: {
          legend: { display: false },
          insightsCellValues: { max: spec.max },
          tooltip: {
            callbacks: {
              title: function () { return ""; },
              label: function (ctx) { return ctx.raw.y + ", " + ctx.raw.x + ": " + ctx.raw.v + " " + spec.label; }
            }
          }
        }
      },
      plugins: [cellValues]
    };
  }

  canvases.forEach(function (canvas) {
    try {
      var source = document.getElementById(canvas.getAttribute("data-insights-chart"));
      var spec = JSON.parse(source.textContent);
      if (spec.kind !== "matrix") sizeBox(spec, canvas);
      var config = spec.kind === "matrix" ? matrixConfig(spec, canvas) : barConfig(spec);
      new Chart(canvas, config);
      canvas.setAttribute("data-chart-state", "drawn");
    } catch (error) {
      canvas.setAttribute("data-chart-state", "failed");
      if (window.console) window.console.error("insights chart", canvas.id, error);
    }
  });
})();
