// The telemetry chart on a device's page (tulou/console/templates/console/device.html), drawn with uPlot.
// It reads its numbers from the console's own JSON (data-src) and asks again every data-refresh seconds,
// so readings appear as they arrive. The table under it holds the same numbers for readers without it.
(function () {
  "use strict";

  function draw(box, status) {
    var plot = null;
    var span = null; // the range asked for, so the axis shows all of it however few the readings
    var label = box.getAttribute("data-label");
    var zone = box.getAttribute("data-timezone");
    var tick = uPlot.fmtDate("{M}/{D} {HH}:{mm}");

    // Times as the rest of the page shows them: in the county's time zone, on a 24-hour clock.
    function inZone(seconds) {
      return zone ? uPlot.tzDate(new Date(seconds * 1000), zone) : new Date(seconds * 1000);
    }

    function width() {
      return Math.max(box.clientWidth, 280);
    }

    function options() {
      return {
        width: width(),
        height: 280,
        tzDate: inZone,
        scales: {
          x: {
            time: true,
            range: function (chart, low, high) { return span ? [span.from, span.to] : [low, high]; }
          }
        },
        series: [
          { value: "{YYYY}-{MM}-{DD} {HH}:{mm}" },
          { label: label, stroke: "#0b5cad", width: 2, spanGaps: true, points: { show: true, size: 6 } }
        ],
        axes: [
          {
            stroke: "#545d68",
            space: 90,
            values: function (chart, splits) {
              return splits.map(function (seconds) { return tick(inZone(seconds)); });
            }
          },
          { stroke: "#545d68" }
        ]
      };
    }

    function show(data) {
      var values = [data.t, data.v];
      span = { from: data.from, to: data.to };
      status.textContent = data.t.length ? "" : box.getAttribute("data-empty");
      box.setAttribute("data-shown", data.t.length ? String(data.v[data.v.length - 1]) : "");
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
