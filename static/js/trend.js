/* A plan's trend page: a click on a run's point opens that run.
 *
 * Each trace's customdata holds run ids; the chart's data-open-run is the run page URL of run 0,
 * whose "/0/" is replaced by the clicked id.
 */
(function () {
  "use strict";

  function attach(el, tries) {
    if (!el.on || !el.data) {  // not drawn yet by charts.js
      if (tries < 100) window.setTimeout(function () { attach(el, tries + 1); }, 100);
      return;
    }
    el.on("plotly_click", function (event) {
      var point = event && event.points && event.points[0];
      if (!point || point.customdata === undefined) return;
      window.location.assign(el.dataset.openRun.replace("/0/", "/" + encodeURIComponent(point.customdata) + "/"));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-open-run]").forEach(function (el) { attach(el, 0); });
  });
})();
