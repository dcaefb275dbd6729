/* Progressive enhancement of the forms: scenario steps (add, reorder) and the load profile
 * form (fields of the chosen kind, stage rows, live preview chart). Without JavaScript the
 * forms still work: every field is a plain input the server validates.
 */
(function () {
  "use strict";

  /* ---- scenario steps ---------------------------------------------------------------- */
  function initSteps() {
    var box = document.getElementById("steps");
    var tpl = document.getElementById("step-template");
    var add = document.getElementById("add-step");
    if (!box || !tpl || !add) return;
    var prefix = box.dataset.prefix;
    var total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");

    function renumber() {
      box.querySelectorAll("[data-step]").forEach(function (step, i) {
        var order = step.querySelector('input[name$="-ORDER"]');
        if (order) order.value = String(i + 1);
      });
    }

    add.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      var html = tpl.innerHTML.replace(/__prefix__/g, String(index));
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var step = holder.firstElementChild;
      box.appendChild(step);
      total.value = String(index + 1);
      renumber();
      var first = step.querySelector('input[name$="-path"]');
      if (first) first.focus();
    });

    box.addEventListener("click", function (ev) {
      var btn = ev.target.closest("[data-step-up],[data-step-down]");
      if (!btn) return;
      var step = btn.closest("[data-step]");
      if (btn.hasAttribute("data-step-up") && step.previousElementSibling) {
        box.insertBefore(step, step.previousElementSibling);
      } else if (btn.hasAttribute("data-step-down") && step.nextElementSibling) {
        box.insertBefore(step.nextElementSibling, step);
      }
      renumber();
    });

    box.addEventListener("change", function (ev) {
      if (ev.target.name && /-DELETE$/.test(ev.target.name)) {
        ev.target.closest("[data-step]").classList.toggle("removed", ev.target.checked);
      }
    });
  }

  /* ---- scenario kind (steps or locustfile) and data sources ---------------------------- */
  function initScenarioKind() {
    var form = document.getElementById("scenario-form");
    if (!form) return;
    var kind = form.querySelector('select[name="kind"]');
    function show() {
      var value = kind ? kind.value : "steps";
      form.querySelectorAll("[data-kind-section]").forEach(function (section) {
        section.hidden = section.dataset.kindSection !== value;
      });
    }
    if (kind) kind.addEventListener("change", show);
    show();
  }

  function initSources() {
    var box = document.getElementById("sources");
    var tpl = document.getElementById("source-template");
    var add = document.getElementById("add-source");
    if (!box || !tpl || !add) return;
    var total = document.getElementById("id_" + box.dataset.prefix + "-TOTAL_FORMS");
    add.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      var holder = document.createElement("div");
      holder.innerHTML = tpl.innerHTML.replace(/__prefix__/g, String(index));
      box.appendChild(holder.firstElementChild);
      total.value = String(index + 1);
    });
    box.addEventListener("change", function (ev) {
      if (ev.target.name && /-DELETE$/.test(ev.target.name)) {
        ev.target.closest("[data-source]").classList.toggle("removed", ev.target.checked);
      }
    });
  }

  /* ---- load profile -------------------------------------------------------------------- */
  function initProfile() {
    var form = document.getElementById("profile-form");
    if (!form) return;
    var kind = form.querySelector('select[name="kind"]');
    var chart = document.getElementById("chart-profile");
    var summary = document.getElementById("preview-summary");
    var stagesText = form.querySelector('textarea[name="stages_json"]');
    var rowsBox = document.getElementById("stage-rows");
    var timer = null;
    var seq = 0;
    var openKinds = (form.dataset.openKinds || "").split(" ").filter(Boolean);

    /* Arrival-rate kinds plan iterations started per second, not users. */
    function isOpen() { return openKinds.indexOf(kind.value) !== -1; }

    function labelled(fig) {
      var unit = isOpen() ? "iterations/s" : "users";
      fig.data[0].name = "planned " + unit;
      fig.layout.title.text = isOpen() ? "Planned arrival rate" : "Planned users";
      fig.layout.yaxis.title.text = unit;
      return fig;
    }

    function showKind() {
      form.querySelectorAll("fieldset.kind-fields").forEach(function (fs) {
        fs.hidden = fs.dataset.kind !== kind.value;
      });
    }

    /* Stage rows mirror the JSON textarea (the field the server reads). */
    function stageInput(value, name) {
      var input = document.createElement("input");
      input.type = "number";
      input.step = name === "spawn_rate" ? "any" : "1";
      input.dataset.stage = name;
      input.value = value === null || value === undefined ? "" : String(value);
      return input;
    }

    function stageRow(stage) {
      var tr = document.createElement("tr");
      ["duration", "users", "spawn_rate"].forEach(function (name) {
        var td = document.createElement("td");
        td.appendChild(stageInput(stage[name], name));
        tr.appendChild(td);
      });
      var td = document.createElement("td");
      var del = document.createElement("button");
      del.type = "button";
      del.className = "btn btn-small";
      del.textContent = "Remove";
      del.dataset.removeStage = "1";
      td.appendChild(del);
      tr.appendChild(td);
      return tr;
    }

    function rowsFromText() {
      var stages;
      try {
        stages = stagesText.value.trim() ? JSON.parse(stagesText.value) : [];
      } catch (e) {
        return; // keep the rows; the server explains the JSON error
      }
      if (!Array.isArray(stages)) return;
      var body = rowsBox.querySelector("tbody");
      body.replaceChildren();
      stages.forEach(function (s) { body.appendChild(stageRow(s || {})); });
    }

    function textFromRows() {
      var stages = [];
      rowsBox.querySelectorAll("tbody tr").forEach(function (tr) {
        var stage = {};
        tr.querySelectorAll("input[data-stage]").forEach(function (input) {
          var v = input.value.trim();
          if (v === "") {
            if (input.dataset.stage !== "spawn_rate") stage[input.dataset.stage] = null;
          } else {
            stage[input.dataset.stage] = Number(v);
          }
        });
        stages.push(stage);
      });
      stagesText.value = stages.length ? JSON.stringify(stages) : "";
    }

    if (stagesText && rowsBox) {
      rowsBox.hidden = false;
      rowsFromText();
      rowsBox.addEventListener("input", function () { textFromRows(); });
      rowsBox.addEventListener("click", function (ev) {
        if (ev.target.dataset && ev.target.dataset.removeStage) {
          ev.target.closest("tr").remove();
          textFromRows();
          queuePreview();
        }
      });
      document.getElementById("add-stage").addEventListener("click", function () {
        rowsBox.querySelector("tbody").appendChild(stageRow({ duration: 60, users: 10 }));
        textFromRows();
        queuePreview();
      });
      stagesText.addEventListener("change", rowsFromText);
    }

    function preview() {
      var data = new FormData(form);
      data.delete("csrfmiddlewaretoken");
      data.delete("name");
      var params = new URLSearchParams();
      data.forEach(function (value, key) {
        // Send only the chosen kind's fields.
        if (key === "kind" || key === "stages_json" || key.indexOf("p_" + kind.value + "_") === 0) {
          params.append(key, value);
        }
      });
      var mine = ++seq;
      fetch(form.dataset.previewUrl + "?" + params.toString(), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (d) {
          if (mine !== seq) return; // an older answer arriving late
          if (!d.ok) {
            var msgs = Object.keys(d.errors).map(function (k) { return d.errors[k]; });
            summary.textContent = "Not valid yet: " + msgs.join(" ");
            chart.classList.add("stale");
            return;
          }
          chart.classList.remove("stale");
          var advice = document.getElementById("preview-advice");
          if (advice) {
            advice.textContent = d.step_advice || "";
            advice.hidden = !d.step_advice;
          }
          if (isOpen()) {
            var peakRate = d.y.length ? Math.max.apply(null, d.y) : 0;
            summary.textContent = Math.round(d.duration) + " s, peak " + peakRate + " iterations/s, at most " +
              d.peak_users + " in flight (not saved yet)";
          } else {
            summary.textContent = Math.round(d.duration) + " s, peak " + d.peak_users + " users (not saved yet)";
          }
          var fig = labelled(window.ScaleCharts.readJSON("fig-profile"));
          fig.data[0].x = d.x;
          fig.data[0].y = d.y;
          Plotly.react(chart, fig.data, fig.layout, window.ScaleCharts.config);
        })
        .catch(function () {
          summary.textContent = "The preview is not available right now.";
        });
    }

    function queuePreview() {
      window.clearTimeout(timer);
      timer = window.setTimeout(preview, 250);
    }

    kind.addEventListener("change", function () { showKind(); queuePreview(); });
    form.addEventListener("input", queuePreview);
    showKind();
    if (isOpen()) {
      // The saved profile's chart came from the server labelled for users.
      var saved = labelled(window.ScaleCharts.readJSON("fig-profile"));
      Plotly.react(chart, saved.data, saved.layout, window.ScaleCharts.config);
    }
    if (!form.dataset.saved) queuePreview();
  }

  document.addEventListener("DOMContentLoaded", function () {
    initSteps();
    initScenarioKind();
    initSources();
    initProfile();
  });
})();
