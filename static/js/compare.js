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

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-compare-form]").forEach(setupForm);
    document.querySelectorAll("#copy-share").forEach(setupCopy);
  });
})();
