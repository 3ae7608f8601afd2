// Small console behaviours, each hooked to a data- attribute (grep for it).
// No inline handlers: the Content-Security-Policy allows only our own scripts.
(function () {
  "use strict";

  function openDialogs(root) {
    const found = root.matches && root.matches("dialog[data-dialog]") ? [root] : [];
    root.querySelectorAll && found.push(...root.querySelectorAll("dialog[data-dialog]"));
    found.forEach(function (dialog) {
      if (!dialog.open && dialog.isConnected) {
        dialog.showModal();
      }
      dialog.addEventListener("close", function () { dialog.remove(); }, { once: true });
    });
  }

  function closeAll() {
    // Deferred: htmx dispatches the response's other events on the form inside the
    // dialog after this one, and they must still bubble up to body.
    setTimeout(function () {
      document.querySelectorAll("dialog[data-dialog]:not([data-page])").forEach(function (d) {
        if (d.open) { d.close(); }
        d.remove();
      });
    }, 0);
  }

  document.addEventListener("htmx:load", function (event) { openDialogs(event.detail.elt); });
  document.body && document.body.addEventListener("closeDialog", closeAll);
  document.addEventListener("DOMContentLoaded", function () {
    document.body.addEventListener("closeDialog", closeAll);
  });

  document.addEventListener("click", function (event) {
    const closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      const dialog = closer.closest("dialog");
      if (dialog && !dialog.hasAttribute("data-page")) {
        event.preventDefault();
        dialog.close();
      }
      return;
    }
    const copy = event.target.closest("[data-copy-target]");
    if (copy) {
      const source = document.getElementById(copy.dataset.copyTarget);
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          copy.textContent = "Copied";
          copy.setAttribute("data-copied", "true");
        });
      }
    }
  });
})();
