/* Run comparison: the run list's "Compare selected" form and the comparison page's share link.
 *
 * The form works without JavaScript (it submits ids=3&ids=5); with it, the button is enabled
 * only for 2 or more ticked runs and the browser goes to the canonical, shareable
 * /runs/compare/?ids=3,5 URL.
 */
(function () {
  "use strict";

  function setupForm(form) {
    var button = form.querySelector("[data-compare-submit]");
    var counter = form.querySelector("[data-compare-count]");
    var max = parseInt(form.dataset.max || "20", 10);

    function checked() {
      return Array.prototype.slice.call(form.querySelectorAll("input[name=ids]:checked"));
    }

    function update() {
      var n = checked().length;
      if (button) button.disabled = n < 2 || n > max;
      if (counter) {
        counter.textContent = n > max ? n + " selected (at most " + max + ")" : n + " selected";
      }
    }

    form.addEventListener("change", update);
    form.addEventListener("submit", function (event) {
      var ids = checked().map(function (box) { return box.value; });
      if (ids.length < 2 || ids.length > max) {
        event.preventDefault();
        return;
      }
      event.preventDefault();
      window.location.assign(form.action + "?ids=" + ids.map(encodeURIComponent).join(","));
    });
    update();
  }

  function setupCopy(button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.dataset.target);
      if (!input) return;
      input.select();
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {});
      } else if (document.execCommand && document.execCommand("copy")) {
        done();
      }
    });
  }

  // Overlays arrive downsampled (peaks kept). Zooming in fetches the visible window from
  // runs-compare-window, at full resolution when the window is short enough; double-click
  // (autorange) restores the whole-run view.
  var ZOOM_CHARTS = { "chart-cmp-rps": "rps", "chart-cmp-p95": "p95", "chart-cmp-errors": "error_pct" };

  function setupZoom(container) {
    var url = container.dataset.windowUrl;
    Object.keys(ZOOM_CHARTS).forEach(function (id) {
      var el = document.getElementById(id);
      if (!el || !url) return;
      var key = ZOOM_CHARTS[id];
      var latest = 0;
      var tries = 0;
      function indices() { return el.data.map(function (_, i) { return i; }); }
      function attach() {
        if (!el.on || !el.data) {  // not drawn yet by charts.js
          if (tries++ < 100) window.setTimeout(attach, 100);
          return;
        }
        var whole = {
          x: el.data.map(function (trace) { return trace.x; }),
          y: el.data.map(function (trace) { return trace.y; })
        };
        el.on("plotly_relayout", function (event) {
          if (event["xaxis.autorange"]) {
            latest += 1;
            Plotly.restyle(el, { x: whole.x, y: whole.y }, indices());
            return;
          }
          var lo = event["xaxis.range[0]"];
          var hi = event["xaxis.range[1]"];
          if (lo === undefined || hi === undefined) return;
          var mine = ++latest;
          var query = "&from=" + Math.max(0, Math.floor(lo)) + "&to=" + Math.max(1, Math.ceil(hi));
          fetch(url + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
            .then(function (response) { return response.ok ? response.json() : null; })
            .then(function (data) {
              if (!data || mine !== latest || !data[key]) return;  // a newer zoom won
              el.dataset.zoomed = "1";
              Plotly.restyle(el, { x: data[key].x, y: data[key].y }, indices());
            })
            .catch(function () {});
        });
      }
      attach();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-window-url]").forEach(setupZoom);
    document.querySelectorAll("form[data-compare-form]").forEach(setupForm);
    document.querySelectorAll("#copy-share").forEach(setupCopy);
  });
})();
