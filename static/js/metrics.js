/* Keep a running run's server metrics live: poll the run's metrics endpoint every 2 s and
 * redraw each series (values of a Prometheus source may be replaced, so the whole series is
 * drawn again). Figures and warnings come from the server; text is set with textContent.
 * When the run ends, charts.js reloads the page, which then draws the stored series itself.
 */
(function () {
  "use strict";

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function chartFor(id, holder) {
    var el = document.getElementById(id);
    if (el) return el;
    el = document.createElement("div");
    el.className = "chart card";
    el.id = id;
    holder.appendChild(el);
    return el;
  }

  function show(d) {
    var holder = document.getElementById("server-metrics-charts");
    if (!holder || !window.Plotly) return;
    d.charts.forEach(function (item) {
      var el = chartFor(item.id, holder);
      Plotly.react(el, item.fig.data, item.fig.layout, window.ScaleCharts ? window.ScaleCharts.config : {});
    });
    var waiting = document.getElementById("server-metrics-waiting");
    if (waiting && d.charts.length) waiting.remove();
    var box = document.getElementById("server-metrics-warnings");
    if (box) {
      box.replaceChildren.apply(
        box,
        d.warnings.map(function (text) {
          var div = document.createElement("div");
          div.className = "message warning";
          div.setAttribute("role", "status");
          div.textContent = text;
          return div;
        })
      );
    }
  }

  function start(cfg) {
    function poll() {
      fetch(cfg.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (!r.ok) throw new Error("metrics: HTTP " + r.status);
          return r.json();
        })
        .then(function (d) {
          show(d);
          if (d.active) window.setTimeout(poll, 2000);
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var cfg = readJSON("metrics-live");
    if (cfg && cfg.active) start(cfg);
  });
})();
