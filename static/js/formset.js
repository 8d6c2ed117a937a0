/*
 * Add and remove rows of Django formsets without inline script (CSP-friendly).
 *
 * Markup (templates/postmortems/_formset.html):
 *   <div data-formset data-prefix="items">
 *     management form inputs (items-TOTAL_FORMS, items-MAX_NUM_FORMS, ...)
 *     <div data-formset-rows> <fieldset data-formset-row> ... </fieldset> ... </div>
 *     <template data-formset-template> the formset's empty_form, with __prefix__ </template>
 *     <button data-formset-add hidden>
 *   </div>
 *
 * Adding clones the <template> content, replaces "__prefix__" with the next form
 * index in id/name/for attributes and bumps TOTAL_FORMS. Removing ticks the
 * row's DELETE checkbox (the no-JavaScript fallback stays the same checkbox) and
 * folds the row away with an "Undo" button; the server skips deleted rows.
 */
(function () {
  "use strict";

  var ATTRIBUTES = ["id", "name", "for", "aria-describedby"];

  function renumber(root, index) {
    var nodes = root.querySelectorAll("*");
    for (var i = 0; i < nodes.length; i++) {
      for (var j = 0; j < ATTRIBUTES.length; j++) {
        var value = nodes[i].getAttribute(ATTRIBUTES[j]);
        if (value && value.indexOf("__prefix__") !== -1) {
          nodes[i].setAttribute(ATTRIBUTES[j], value.split("__prefix__").join(String(index)));
        }
      }
    }
  }

  function enhanceRow(row) {
    var holder = row.querySelector("[data-formset-delete]");
    if (!holder || holder.dataset.enhanced) {
      return;
    }
    holder.dataset.enhanced = "1";
    var checkbox = holder.querySelector('input[type="checkbox"]');
    if (!checkbox) {
      return;
    }
    holder.classList.add("is-enhanced");

    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "btn btn-small btn-danger-ghost";
    remove.textContent = "Remove";

    var removedNote = document.createElement("p");
    removedNote.className = "removed-note";
    removedNote.textContent = "This row will be removed when you save. ";
    var undo = document.createElement("button");
    undo.type = "button";
    undo.className = "btn btn-small btn-ghost";
    undo.textContent = "Undo";
    removedNote.appendChild(undo);

    function sync() {
      row.classList.toggle("is-removed", checkbox.checked);
    }
    remove.addEventListener("click", function () {
      checkbox.checked = true;
      sync();
      undo.focus();
    });
    undo.addEventListener("click", function () {
      checkbox.checked = false;
      sync();
      remove.focus();
    });
    holder.appendChild(remove);
    row.appendChild(removedNote);
    sync();
  }

  function setup(formset) {
    var prefix = formset.getAttribute("data-prefix");
    var total = formset.querySelector('input[name="' + prefix + '-TOTAL_FORMS"]');
    var max = formset.querySelector('input[name="' + prefix + '-MAX_NUM_FORMS"]');
    var rows = formset.querySelector("[data-formset-rows]");
    var template = formset.querySelector("template[data-formset-template]");
    var add = formset.querySelector("[data-formset-add]");
    if (!total || !rows || !template || !add) {
      return;
    }
    formset.classList.add("js-enabled");
    rows.querySelectorAll("[data-formset-row]").forEach(enhanceRow);

    add.hidden = false;
    add.addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      if (max && index >= parseInt(max.value, 10)) {
        add.disabled = true;
        return;
      }
      var fragment = template.content.cloneNode(true);
      renumber(fragment, index);
      var row = fragment.querySelector("[data-formset-row]");
      rows.appendChild(fragment);
      total.value = String(index + 1);
      if (row) {
        enhanceRow(row);
        var first = row.querySelector("input:not([type=hidden]), select, textarea");
        if (first) {
          first.focus();
        }
      }
    });
  }

  function init() {
    document.querySelectorAll("[data-formset]").forEach(setup);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
