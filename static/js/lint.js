/*
 * Inline blameless-language check in the post-mortem editor (with htmx; no inline script).
 *
 * Fields that carry data-lint-section (the four sections and each action item's
 * text; see postmortems/forms.py lint_attrs) post to /postmortems/lint/ about
 * 600 ms after the author stops typing. htmx would send the whole enclosing
 * form with a POST; this sends only the field's text and its section. The CSRF
 * token comes from hx-headers on <body>.
 *
 * Rows that static/js/formset.js adds are cloned from a <template>, which htmx
 * has not seen: they are handed to htmx.process() as they appear.
 */
(function () {
  "use strict";

  document.addEventListener("htmx:configRequest", function (event) {
    var field = event.detail.elt;
    var section = field && field.getAttribute && field.getAttribute("data-lint-section");
    if (!section) {
      return;
    }
    event.detail.parameters = { text: field.value || "", section: section };
  });

  // When the check cannot run (signed out, CSRF cookie gone, server down), say so
  // instead of leaving an old "No findings" under the field.
  function showProblem(event, text) {
    var field = event.detail.elt;
    var box = event.detail.target;
    if (!field || !field.getAttribute || !field.getAttribute("data-lint-section") || !box) {
      return false;
    }
    var note = document.createElement("p");
    note.className = "lint-error";
    note.textContent = text;
    box.replaceChildren(note);
    return true;
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.responseURL && xhr.responseURL.indexOf("/accounts/login/") !== -1) {
      if (showProblem(event, "Wording not checked: you are signed out. Sign in again in another tab.")) {
        event.detail.shouldSwap = false;
      }
    }
  });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    showProblem(
      event,
      status === 403
        ? "Wording not checked: the page's session expired. Reload the page (copy your text first)."
        : "Wording not checked right now (HTTP " + status + ")."
    );
  });
  document.addEventListener("htmx:sendError", function (event) {
    showProblem(event, "Wording not checked: the server did not answer.");
  });

  function watchNewRows() {
    if (!window.htmx || !window.MutationObserver) {
      return;
    }
    var observer = new MutationObserver(function (mutations) {
      mutations.forEach(function (mutation) {
        mutation.addedNodes.forEach(function (node) {
          if (node.nodeType === 1 && node.querySelector("[data-lint-section]")) {
            window.htmx.process(node);
          }
        });
      });
    });
    document.querySelectorAll("[data-formset-rows]").forEach(function (rows) {
      observer.observe(rows, { childList: true });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", watchNewRows);
  } else {
    watchNewRows();
  }
})();
