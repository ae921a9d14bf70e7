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
