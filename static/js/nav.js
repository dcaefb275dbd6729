// The team switcher submits as soon as another team is chosen (a plain button without JS).
document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});

// Bars whose width comes from the server (the run's progress): set here, through the DOM, because
// the Content Security Policy forbids style="" attributes in the markup.
document.querySelectorAll("[data-percent]").forEach((bar) => {
  const percent = Math.max(0, Math.min(100, parseFloat(bar.dataset.percent) || 0));
  bar.style.width = percent + "%";
});

// The top bar's menu folds behind a button on narrow screens (app.css); without JS it stays open.
document.documentElement.classList.replace("no-js", "js");
document.querySelectorAll(".nav-toggle").forEach((button) => {
  const menu = document.getElementById(button.getAttribute("aria-controls"));
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    menu.classList.toggle("open", open);
  });
});

// A table wider than its box scrolls sideways; keyboard users reach it with Tab (then the
// arrow keys scroll it). Checked again when the page changes (live tables) or is resized.
(() => {
  let pending = false;
  const mark = () => {
    pending = false;
    document.querySelectorAll(".table, .table-scroll").forEach((box) => {
      if (box.scrollWidth > box.clientWidth + 1) box.setAttribute("tabindex", "0");
      else if (box.getAttribute("tabindex") === "0") box.removeAttribute("tabindex");
    });
  };
  const later = () => {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(mark);
    }
  };
  document.addEventListener("DOMContentLoaded", () => {
    mark();
    window.addEventListener("resize", later);
    new MutationObserver(later).observe(document.body, { childList: true, subtree: true });
  });
})();
