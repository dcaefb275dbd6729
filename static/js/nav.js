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
