/* Draw the Plotly figures embedded with json_script, and keep a running run's page live.
 *
 * Every element with data-figure="<json_script id>" gets Plotly.newPlot. On the run page a
 * "live-config" JSON block makes this poll the runs-live endpoint every second. Each poll names
 * the second it is as of (last_t); the endpoint and error tables are then fetched as of that
 * same second (server-rendered, escaped HTML), and the charts, the headline and the tables are
 * updated together, so every figure on the page agrees. When the run ends the page reloads once
 * to show the summary.
 */
(function () {
  "use strict";

  var CONFIG = {
    displaylogo: false,
    responsive: true,
    // The toolbar shows on hover only (app.css also keeps it clear of titles and legends).
    displayModeBar: "hover",
    modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"],
  };

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  // A top-right legend runs into the left-aligned title on a narrow chart or beside a long
  // title (about 7 px a character at 14 px): put it below the chart then.
  function fitted(el, layout) {
    if (!layout || !layout.legend || !layout.title) return layout;
    var title = String((layout.title && layout.title.text) || "");
    if (el.clientWidth >= 560 && title.length * 7 < el.clientWidth * 0.45) return layout;
    var out = Object.assign({}, layout);
    out.legend = Object.assign({}, layout.legend, { x: 0, xanchor: "left", y: -0.32, yanchor: "top" });
    out.margin = Object.assign({}, layout.margin, { b: 96 });
    if (layout.height) out.height = layout.height + 48;
    return out;
  }

  function draw(el, fig) {
    return Plotly.newPlot(el, fig.data, fitted(el, fig.layout), CONFIG);
  }

  function drawAll() {
    var pending = [];
    document.querySelectorAll("[data-figure]").forEach(function (el) {
      var fig = readJSON(el.dataset.figure);
      if (fig) pending.push(draw(el, fig));
    });
    return Promise.all(pending);
  }

  // Run statuses and their labels come from the page ("statuses" in live-config: Run.Status).
  var STATUS_LABELS = {};

  function setText(id, value) {
    var el = document.getElementById(id);
    if (el) el.textContent = String(value);
  }

  function setStatus(status) {
    var holder = document.getElementById("run-status");
    if (status !== "queued") {
      // "Run #3 … is queued": true when the page opened, not once a worker has the run.
      document.querySelectorAll(".message.follows-run").forEach(function (el) { el.remove(); });
    }
    if (!holder || holder.dataset.status === status) return;
    holder.dataset.status = status;
    var badge = document.createElement("span");
    badge.className = "status status-" + (STATUS_LABELS[status] ? status : "unknown");
    badge.textContent = STATUS_LABELS[status] || status;
    holder.replaceChildren(badge);
  }

  function startLive(cfg) {
    STATUS_LABELS = cfg.statuses || {};
    var after = cfg.after;
    var failures = 0;
    var keys = Object.keys(cfg.charts);

    function schedule() {
      var delay = failures ? Math.min(10000, 1000 * Math.pow(2, failures)) : 1000;
      window.setTimeout(poll, delay);
    }

    // The tables as of second ``upto``; null when they cannot be read (the rest still updates).
    function tablesAsOf(upto) {
      var sep = cfg.tables_url.indexOf("?") === -1 ? "?" : "&";
      return fetch(cfg.tables_url + sep + "upto=" + encodeURIComponent(upto), { credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) throw new Error("tables: HTTP " + r.status);
          return r.text();
        })
        .catch(function () { return null; });
    }

    function showTables(html) {
      var box = document.getElementById("run-tables");
      if (box && html !== null) box.innerHTML = html;
    }

    // All charts share one time axis (0 to the planned duration); a run that goes on longer
    // widens all of them together.
    function widenAxes(t) {
      keys.forEach(function (key) {
        var el = document.getElementById("chart-" + key);
        var range = el && el.layout && el.layout.xaxis && el.layout.xaxis.range;
        if (range && t > range[1]) Plotly.relayout(el, { "xaxis.range": [0, t] });
      });
    }

    function extend(points) {
      if (!points.t.length) return;
      keys.forEach(function (key) {
        var el = document.getElementById("chart-" + key);
        if (!el) return;
        var series = cfg.charts[key];
        var update = {
          x: series.map(function () { return points.t; }),
          y: series.map(function (name) { return points[name]; }),
        };
        Plotly.extendTraces(el, update, series.map(function (_, i) { return i; }));
      });
      after = points.t[points.t.length - 1];
      widenAxes(after + 1);
    }

    function showProgress(d) {
      var p = d.progress;
      var bar = document.getElementById("progress-bar");
      if (bar) {
        bar.style.width = p.percent + "%";
        bar.parentNode.setAttribute("aria-valuenow", String(p.percent));
      }
      setText("p-elapsed", p.elapsed);
      setText("p-planned", Math.round(p.planned));
      setText("p-users", p.users);
      setText("p-rps", p.rps);
      setText("p-rps-mean", p.rps_mean);
      setText("p-errors", p.error_rate);
      setText("p-requests", d.total_requests);
      if (d.status === "running") {
        setText("live-note", "Live: updated every second; the charts, figures and tables show the same second.");
      }
    }

    // Live changes (runs.selectors.control.live_controls): markers on every chart, named
    // "control-<id>" so the threshold lines stay, and the timeline list, rebuilt with text only.
    var controlsSeen = null;

    function isMarker(item) {
      return String(item.name || "").indexOf("control-") === 0;
    }

    function showControls(c) {
      if (!c) return;
      var signature = JSON.stringify(c.timeline);
      if (signature === controlsSeen) return;
      controlsSeen = signature;
      keys.forEach(function (key) {
        var el = document.getElementById("chart-" + key);
        if (!el || !el.layout) return;
        Plotly.relayout(el, {
          shapes: (el.layout.shapes || []).filter(function (s) { return !isMarker(s); }).concat(c.markers.shapes),
          annotations: (el.layout.annotations || []).filter(function (a) { return !isMarker(a); }).concat(c.markers.annotations),
        });
      });
      var box = document.getElementById("timeline");
      var list = document.getElementById("timeline-list");
      if (!box || !list) return;
      var items = c.timeline.map(function (item) {
        var li = document.createElement("li");
        li.id = "timeline-" + item.id;
        li.dataset.state = item.state;
        var when = document.createElement("strong");
        when.textContent = item.t === null ? "–" : item.t.toFixed(1) + " s";
        var state = document.createElement("span");
        state.className = "muted";
        state.textContent = item.state_label;
        li.append(when, " " + item.label + " · ", state);
        return li;
      });
      list.replaceChildren.apply(list, items);
      box.hidden = items.length === 0;
    }

    function showFinalPage(status) {
      fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          window.location.reload();
        })
        .catch(function (err) {
          setText(
            "live-note",
            "The run has ended (" + status + "), but its summary could not be loaded (" + err.message +
              "). The charts above keep what was measured; reload the page to try again."
          );
        });
    }

    function poll() {
      var url = cfg.url + "?after=" + encodeURIComponent(after);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (!r.ok) throw new Error("live: HTTP " + r.status);
          return r.json();
        })
        .then(function (d) {
          var tables = d.active && d.last_t >= 0 ? tablesAsOf(d.last_t) : Promise.resolve(null);
          return tables.then(function (html) { return { d: d, html: html }; });
        })
        .then(function (got) {
          var d = got.d;
          failures = 0;
          extend(d.points);
          showProgress(d);
          showTables(got.html);
          showControls(d.controls);
          setStatus(d.status);
          if (!d.active) {
            // The summary, percentiles and endpoint summaries exist only now: show them, but
            // only once the page answers; a failing page never replaces what the user watched.
            showFinalPage(d.status);
            return;
          }
          schedule();
        })
        .catch(function () {
          failures += 1;
          schedule();
        });
    }

    schedule();
  }

  window.ScaleCharts = { draw: draw, readJSON: readJSON, config: CONFIG };

  document.addEventListener("DOMContentLoaded", function () {
    drawAll().then(function () {
      var live = readJSON("live-config");
      if (live && live.active) startLive(live);
    });
  });
})();
