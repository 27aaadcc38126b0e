// The telemetry chart on a device's page (tulou/console/templates/console/device.html), drawn with uPlot.
// It reads its numbers from the console's own JSON (data-src) and asks again every data-refresh seconds,
// so readings appear as they arrive. The table under it holds the same numbers for readers without it.
(function () {
  "use strict";

  function draw(box, status) {
    var plot = null;
    var label = box.getAttribute("data-label");

    function width() {
      return Math.max(box.clientWidth, 280);
    }

    function options() {
      return {
        width: width(),
        height: 280,
        scales: { x: { time: true } },
        series: [{}, { label: label, stroke: "#0b5cad", width: 2, spanGaps: true, points: { show: true, size: 6 } }],
        axes: [{ stroke: "#545d68" }, { stroke: "#545d68" }]
      };
    }

    function show(data) {
      var values = [data.t, data.v];
      status.textContent = data.t.length ? "" : box.getAttribute("data-empty");
      if (plot === null) {
        plot = new uPlot(options(), values, box);
      } else {
        plot.setData(values);
      }
    }

    function load() {
      fetch(box.getAttribute("data-src"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error(String(response.status));
          }
          return response.json();
        })
        .then(show)
        .catch(function () {
          status.textContent = box.getAttribute("data-failed");
        });
    }

    load();
    window.setInterval(load, 1000 * (parseInt(box.getAttribute("data-refresh"), 10) || 30));
    window.addEventListener("resize", function () {
      if (plot !== null) {
        plot.setSize({ width: width(), height: 280 });
      }
    });
  }

  function start() {
    var box = document.getElementById("chart");
    var status = document.getElementById("chart-status");
    if (box && status && window.uPlot) {
      draw(box, status);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
