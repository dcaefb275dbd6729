// The team switcher submits as soon as another team is chosen (a plain button without JS).
document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});
