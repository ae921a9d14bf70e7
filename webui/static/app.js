// Small progressive enhancements: repeating rows (household members, interventions) and simple show_if.
(function () {
  "use strict";

  function renumber(group) {
    var name = group.getAttribute("data-group");
    group.querySelectorAll("[data-row]").forEach(function (row, index) {
      row.querySelector(".row-number").textContent = String(index + 1);
      row.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace(new RegExp("^" + name + "-\\d+-"), name + "-" + index + "-");
        if (el.id) { el.id = el.id.replace(new RegExp("^f-" + name + "-\\d+-"), "f-" + name + "-" + index + "-"); }
      });
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.classList.contains("add-row")) {
      var group = target.closest("[data-group]");
      var rows = group.querySelector(".rows");
      var last = rows.querySelector("[data-row]:last-child");
      var copy = last.cloneNode(true);
      copy.querySelectorAll("input, select, textarea").forEach(function (el) {
        if (el.type === "checkbox") { el.checked = false; } else { el.value = ""; }
      });
      copy.querySelectorAll(".field-error, .source").forEach(function (el) { el.remove(); });
      copy.querySelectorAll(".has-error, .prefilled").forEach(function (el) {
        el.classList.remove("has-error", "prefilled");
      });
      rows.appendChild(copy);
      renumber(group);
      var first = copy.querySelector("input:not([type=hidden]), select, textarea");
      if (first) { first.focus(); }
    }
    if (target.classList.contains("remove-row")) {
      var groupEl = target.closest("[data-group]");
      if (groupEl.querySelectorAll("[data-row]").length > 1) {
        target.closest("[data-row]").remove();
        renumber(groupEl);
      }
    }
  });

  function applyShowRules(form) {
    form.querySelectorAll("[data-show-when]").forEach(function (field) {
      var source = form.querySelector("[name='" + field.getAttribute("data-show-when") + "']");
      if (!source) { return; }
      var values = field.getAttribute("data-show-values").split("|");
      field.hidden = values.indexOf(source.value) === -1;
    });
  }

  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form) { applyShowRules(form); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.task-form").forEach(applyShowRules);
  });
}());

// Failed submissions and long forms (issue 10): the focus goes to the error summary, its links open the step that
// holds their field, and a form with sections shows one step at a time (every step shows without this script).
(function () {
  "use strict";
  var ALL_STEPS_KEY = "form-steps-all";

  function rememberAll(all) {
    try { window.sessionStorage.setItem(ALL_STEPS_KEY, all ? "1" : "0"); } catch (ignored) { /* storage off */ }
  }

  function remembersAll() {
    try { return window.sessionStorage.getItem(ALL_STEPS_KEY) === "1"; } catch (ignored) { return false; }
  }

  function setUpSteps(form) {
    var nav = form.querySelector("[data-steps-nav]");
    if (!nav) { return; }
    var steps = Array.prototype.slice.call(form.querySelectorAll("[data-step]"));
    var toggle = nav.querySelector("[data-steps-all]");

    function markCurrent(name) {
      nav.querySelectorAll("[data-step-target]").forEach(function (button) {
        if (name && button.getAttribute("data-step-target") === name) {
          button.setAttribute("aria-current", "step");
        } else {
          button.removeAttribute("aria-current");
        }
      });
    }

    function showStep(name) {
      steps.forEach(function (step) { step.hidden = step.getAttribute("data-step") !== name; });
      form.querySelectorAll("[data-step-actions]").forEach(function (el) { el.hidden = false; });
      form.setAttribute("data-showing", "one");
      toggle.textContent = toggle.getAttribute("data-label-all");
      markCurrent(name);
    }

    function showAll() {
      steps.forEach(function (step) { step.hidden = false; });
      form.querySelectorAll("[data-step-actions]").forEach(function (el) { el.hidden = true; });
      form.setAttribute("data-showing", "all");
      toggle.textContent = toggle.getAttribute("data-label-one");
      markCurrent(null);
    }

    form.revealField = function (element) {
      var step = element.closest("[data-step]");
      if (step && step.hidden) { showStep(step.getAttribute("data-step")); }
    };

    nav.addEventListener("click", function (event) {
      var target = event.target.closest("[data-step-target]");
      if (target) {
        rememberAll(false);
        showStep(target.getAttribute("data-step-target"));
        form.querySelector("[data-step='" + target.getAttribute("data-step-target") + "']").focus();
      }
    });
    toggle.addEventListener("click", function () {
      var all = form.getAttribute("data-showing") !== "all";
      rememberAll(all);
      if (all) { showAll(); } else { showStep(steps[0].getAttribute("data-step")); }
    });
    form.addEventListener("click", function (event) {
      var go = event.target.closest("[data-step-go]");
      if (!go) { return; }
      var name = go.getAttribute("data-step-go");
      showStep(name);
      var step = form.querySelector("[data-step='" + name + "']");
      step.focus();
      step.scrollIntoView({block: "start"});
    });

    nav.hidden = false;
    var firstProblem = form.querySelector("[data-step] .has-error");
    if (remembersAll()) {
      showAll();
    } else {
      showStep((firstProblem ? firstProblem.closest("[data-step]") : steps[0]).getAttribute("data-step"));
    }
  }

  function focusField(target) {
    var form = target.closest("form");
    if (form && form.revealField) { form.revealField(target); }
    var focusable = target.matches("input, select, textarea") ? target :
      target.querySelector("input:not([type=hidden]), select, textarea") || target;
    focusable.focus();
    target.scrollIntoView({block: "center"});
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-error-link]");
    if (!link) { return; }
    var target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) { return; }
    event.preventDefault();
    focusField(target);
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.task-form").forEach(setUpSteps);
    var summary = document.querySelector("[data-error-summary]");
    if (summary) { summary.focus(); }
  });
}());

// Drafts: what is typed in a task form is saved on the server a second after typing stops and when the page is
// left (webui/drafts.py), so a closed tab or an ended session loses nothing. Files are never drafted.
(function () {
  "use strict";
  var DELAY_MS = 1000;

  function draftValues(form) {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      var name = el.name;
      if (!name || name === "csrf_token" || name.charAt(0) === "_" || el.disabled || el.type === "file" ||
          el.type === "submit" || el.type === "button") { return; }
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) { return; }
      var items = el.type === "select-multiple" ?
        Array.prototype.filter.call(el.options, function (o) { return o.selected; }).map(function (o) { return o.value; }) :
        [el.value];
      items.forEach(function (value) {
        if (!Object.prototype.hasOwnProperty.call(values, name)) { values[name] = value; }
        else if (Array.isArray(values[name])) { values[name].push(value); }
        else { values[name] = [values[name], value]; }
      });
    });
    return values;
  }

  function setUpDrafts(form) {
    var url = form.getAttribute("data-draft-url");
    if (!url || !window.fetch) { return; }
    var token = form.querySelector("[name=csrf_token]");
    var last = JSON.stringify({values: draftValues(form)});
    var timer = null;
    var leaving = false;  // the form (or the draft's discard button) was submitted: the server takes over

    function save(keepalive) {
      clearTimeout(timer);
      timer = null;
      var body = JSON.stringify({values: draftValues(form)});
      if (leaving || body === last) { return; }
      last = body;
      form.setAttribute("data-draft-state", "saving");
      fetch(url, {
        method: "PUT", credentials: "same-origin", keepalive: !!keepalive, body: body,
        headers: {"Content-Type": "application/json", "Accept": "application/json",
                  "X-CSRFToken": token ? token.value : ""}
      }).then(function (response) {
        if (!response.ok) { last = null; }  // try again with the next change
        form.setAttribute("data-draft-state", response.ok ? "saved" : "failed");
      }).catch(function () {
        last = null;
        form.setAttribute("data-draft-state", "failed");
      });
    }

    function later() {
      clearTimeout(timer);
      timer = setTimeout(save, DELAY_MS);
    }

    form.addEventListener("input", later);
    form.addEventListener("change", later);
    form.addEventListener("click", function (event) {
      if (event.target.closest(".add-row, .remove-row")) { later(); }
    });
    document.addEventListener("submit", function (event) {
      if (event.target === form || event.target.closest(".draft-note")) {
        leaving = true;
        clearTimeout(timer);
        setTimeout(function () { if (event.defaultPrevented) { leaving = false; } }, 0);  // a step, not a send
      } else {
        save(true);  // another form (the language switch): keep what was typed first
      }
    }, true);
    window.addEventListener("pagehide", function () { save(true); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { save(true); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-testid=task-form]").forEach(setUpDrafts);
  });
}());

// A wide table scrolls sideways inside its .table-wrap on a phone: such a box takes the keyboard focus (so it can
// be scrolled with the arrow keys) and is a named region (the table's caption or the heading above it).
(function () {
  "use strict";

  function nameOf(wrap) {
    var caption = wrap.querySelector("caption");
    if (caption) { return caption.textContent.trim(); }
    var box = wrap.closest("section, .card, .panel, fieldset");
    var heading = box && box.querySelector("h1, h2, h3, h4, legend");
    return heading ? heading.textContent.trim() : "";
  }

  function update(wrap) {
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      wrap.setAttribute("tabindex", "0");
      wrap.setAttribute("role", "region");
      if (!wrap.hasAttribute("aria-label") && nameOf(wrap)) { wrap.setAttribute("aria-label", nameOf(wrap)); }
    } else if (wrap.getAttribute("tabindex") === "0") {
      wrap.removeAttribute("tabindex");
      wrap.removeAttribute("role");
    }
  }

  function updateAll() { document.querySelectorAll(".table-wrap").forEach(update); }

  document.addEventListener("DOMContentLoaded", updateAll);
  window.addEventListener("resize", updateAll);
}());

// File inputs: the chosen files' names in the page's language (the browser's own text follows its language).
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains("file-input")) { return; }
    var line = input.parentNode.querySelector(".file-names");
    if (!line) { return; }
    var names = Array.prototype.map.call(input.files || [], function (file) { return file.name; });
    if (names.length === 0) { line.textContent = line.getAttribute("data-none"); }
    else if (names.length <= 3) { line.textContent = names.join(", "); }
    else { line.textContent = line.getAttribute("data-many").replace("{count}", String(names.length)); }
  });
}());
