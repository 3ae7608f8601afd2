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
      if (dialog.matches(":modal")) { giveStatusRegion(dialog); }
      dialog.addEventListener("close", function () { rescueToasts(dialog); dialog.remove(); }, { once: true });
    });
  }

  // A modal dialog makes the rest of the page inert and covers it: a toast in the page's
  // status region would be neither seen nor announced. So an open modal dialog has its own
  // status region (above it, in the top layer), the page's fresh toasts move into it, and
  // its toasts move back to the page's region when it closes.
  function giveStatusRegion(dialog) {
    if (dialog.querySelector("[data-dialog-status]")) { return; }
    const region = document.createElement("div");
    region.className = "toasts";
    region.setAttribute("role", "status");
    region.setAttribute("aria-live", "polite");
    region.setAttribute("data-dialog-status", "");
    dialog.appendChild(region);
    const page = document.getElementById("status");
    page && page.querySelectorAll("[data-toast]").forEach(function (t) { region.appendChild(t); });
  }
  function rescueToasts(dialog) {
    const page = document.getElementById("status");
    if (!page) { return; }
    dialog.querySelectorAll("[data-dialog-status] [data-toast]").forEach(function (t) { page.appendChild(t); });
  }
  function statusRegion() {
    const modal = Array.from(document.querySelectorAll("dialog[open]")).filter(function (d) {
      return d.matches(":modal");
    }).pop();
    return (modal && modal.querySelector("[data-dialog-status]")) || document.getElementById("status");
  }

  function closeAll() {
    // Deferred: htmx dispatches the response's other events on the form inside the
    // dialog after this one, and they must still bubble up to body.
    setTimeout(function () {
      document.querySelectorAll("dialog[data-dialog]:not([data-page])").forEach(function (d) {
        if (d.open) { d.close(); }
        rescueToasts(d);
        d.remove();
      });
    }, 0);
  }

  document.addEventListener("htmx:load", function (event) { openDialogs(event.detail.elt); });
  // A dialog that an answer replaces (the description step before the secret dialog) is
  // removed without a "close": its toasts go back to the page first.
  document.addEventListener("htmx:beforeCleanupElement", function (event) {
    const elt = event.target;
    if (elt instanceof HTMLDialogElement && elt.hasAttribute("data-dialog")) { rescueToasts(elt); }
  });

  // A dialog with data-close-event="name" fires that event on body when it closes, so that
  // the list behind it refreshes (hx-trigger="name from:body"). "close" does not bubble.
  document.addEventListener("close", function (event) {
    const dialog = event.target;
    if (dialog instanceof HTMLDialogElement && dialog.dataset.closeEvent) {
      document.body.dispatchEvent(new CustomEvent(dialog.dataset.closeEvent, { bubbles: true }));
    }
  }, true);

  // The "Download CSV" link of a new AuthKey is built here from the ID and secret already
  // on the page: the secret never travels again. The blob dies with the dialog.
  function prepareCsvLinks(root) {
    if (!root.querySelectorAll) { return; }
    root.querySelectorAll("a[data-csv-download]").forEach(function (link) {
      const id = document.getElementById(link.dataset.csvId);
      const secret = document.getElementById(link.dataset.csvSecret);
      if (!id || !secret || link.dataset.ready) { return; }
      const csv = "authKeyId,authKeySecret\r\n" +
        id.textContent.trim() + "," + secret.textContent.trim() + "\r\n";
      const url = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
      link.href = url;
      link.download = link.dataset.csvName || "authkey.csv";
      link.dataset.ready = "true";
      link.hidden = false;
      const dialog = link.closest("dialog");
      if (dialog) {
        dialog.addEventListener("close", function () { URL.revokeObjectURL(url); }, { once: true });
      }
    });
  }
  // "Download as a text file" of backup codes: built from the codes already on the page.
  function prepareTextLinks(root) {
    if (!root.querySelectorAll) { return; }
    root.querySelectorAll("a[data-text-download]").forEach(function (link) {
      const source = document.getElementById(link.dataset.textId);
      if (!source || link.dataset.ready) { return; }
      const url = URL.createObjectURL(new Blob([source.textContent.trim() + "\r\n"], { type: "text/plain" }));
      link.href = url;
      link.download = link.dataset.textName || "backup-codes.txt";
      link.dataset.ready = "true";
      link.hidden = false;
      window.addEventListener("pagehide", function () { URL.revokeObjectURL(url); }, { once: true });
    });
  }
  // Copy buttons marked `hidden` appear only where they can work (script + Clipboard API).
  function revealCopyButtons(root) {
    if (!root.querySelectorAll || !navigator.clipboard) { return; }
    root.querySelectorAll("[data-copy-target][hidden]").forEach(function (button) {
      button.hidden = false;
    });
  }
  // A form answered with errors: the cursor goes to the first field that has one (its
  // message is announced with it), in a dialog or on a page, whatever the error came from.
  const INVALID = ".field.invalid input:not([type=hidden]), .field.invalid textarea, " +
    ".field.invalid select, input[aria-invalid=true], textarea[aria-invalid=true]";
  function focusFirstError(root) {
    if (!root.querySelector) { return; }
    const scope = root.matches && root.matches("dialog") ? root : (root.querySelector("dialog[open]") || root);
    const field = scope.querySelector(INVALID);
    if (field && !field.disabled) { field.focus(); }
  }
  function prepare(root) { prepareCsvLinks(root); prepareTextLinks(root); revealCopyButtons(root); focusFirstError(root); }
  document.addEventListener("htmx:load", function (event) { prepare(event.detail.elt); });
  document.addEventListener("DOMContentLoaded", function () { prepare(document); });
  document.body && document.body.addEventListener("closeDialog", closeAll);
  document.addEventListener("DOMContentLoaded", function () {
    document.body.addEventListener("closeDialog", closeAll);
  });

  // Feedback: the server names what an action did in an HX-Trigger "announce" event
  // (console/htmx.py announce); it is shown in the status region of base.html, which
  // screen readers announce (role="status"). Full pages render Django messages there.
  const TOAST_SECONDS = 8;
  function expire(toast) {
    setTimeout(function () { toast.remove(); }, TOAST_SECONDS * 1000);
  }
  document.addEventListener("announce", function (event) {
    const region = statusRegion();
    if (!region || !event.detail || !event.detail.message) { return; }
    const toast = document.createElement("p");
    toast.className = "toast success";
    toast.setAttribute("data-toast", "");
    toast.textContent = event.detail.message;
    region.appendChild(toast);
    expire(toast);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#status [data-toast]").forEach(expire);
  });

  // A list search or the audit filters are a GET (a linkable URL): a pasted secret would land in the address bar,
  // the history and proxy logs before the server could refuse it. The shapes of
  // console/secretscan.py are checked here first and such a search is never sent; the server
  // refuses it too (without script), without echoing it.
  const SECRET_SHAPES = [
    /secret-[A-Za-z0-9]{64}/,
    /api-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/,
    /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/,
  ];
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.refuseSecrets) { return; }
    const field = Array.from(form.querySelectorAll("input[type=search], input[type=text]")).find(
      function (input) { return SECRET_SHAPES.some(function (shape) { return shape.test(input.value); }); }
    );
    if (!field) { return; }
    event.preventDefault();
    event.stopImmediatePropagation();
    let note = form.querySelector("[data-search-refused]");
    if (!note) {
      note = document.createElement("p");
      note.className = "error";
      note.setAttribute("role", "alert");
      note.setAttribute("data-search-refused", "");
      note.id = field.id + "-refused";
      form.appendChild(note);
    }
    note.textContent = form.dataset.refuseSecrets;
    field.value = "";
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", note.id);
    field.focus();
  }, true);

  // A list's sort control (console/_search.html, shown on small screens) sorts when it
  // changes; without script the form's Search button sends it.
  document.addEventListener("change", function (event) {
    const select = event.target.closest && event.target.closest("select[data-submit-on-change]");
    if (select && select.form) { select.form.requestSubmit(); }
  });

  // Permission editors: append a ready statement (JSON in data-insert-statement) to the
  // document in the textarea named by data-insert-into, keeping what is already there.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-insert-statement]");
    if (!button) { return; }
    const editor = document.getElementById(button.dataset.insertInto);
    if (!editor) { return; }
    let doc;
    try {
      doc = editor.value.trim() ? JSON.parse(editor.value) : { statements: [] };
    } catch (e) {
      doc = null;
    }
    if (!doc || typeof doc !== "object" || !Array.isArray(doc.statements)) {
      button.setAttribute("data-insert-failed", "true");
      button.title = "Fix the JSON first: the statement is added to a valid document.";
      return;
    }
    doc.statements.push(JSON.parse(button.dataset.insertStatement));
    editor.value = JSON.stringify(doc, null, 2);
    editor.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // The show-once secret dialog (data-secret-dialog) asks before it closes (Escape, a click
  // on the backdrop, Done) while the secret has been neither copied nor downloaded; once
  // closed, focus goes to the new key's row in the refreshed list.
  function unsaved(dialog) {
    return dialog.hasAttribute("data-secret-dialog") && !dialog.dataset.secretSaved;
  }
  function askBeforeClosing(dialog) {
    const panel = dialog.querySelector("[data-close-confirm]");
    if (!panel) { return; }
    panel.hidden = false;
    panel.querySelector("[data-keep-open]").focus();
  }
  function keepOpen(dialog) {
    const panel = dialog.querySelector("[data-close-confirm]");
    if (panel) { panel.hidden = true; }
    const done = dialog.querySelector("[data-close-dialog]");
    if (done) { done.focus(); }
  }
  function isAsking(dialog) {
    const panel = dialog.querySelector("[data-close-confirm]");
    return panel && !panel.hidden;
  }
  // Escape: stopped at keydown, before it becomes a close request (a prevented "cancel"
  // event is not honoured twice in a row by Chromium), and "cancel" as a fallback.
  document.addEventListener("keydown", function (event) {
    const dialog = document.querySelector("dialog[data-secret-dialog][open]:not([data-page])");
    if (event.key !== "Escape" || !dialog || !unsaved(dialog)) { return; }
    event.preventDefault();
    if (isAsking(dialog)) { keepOpen(dialog); } else { askBeforeClosing(dialog); }
  }, true);
  document.addEventListener("cancel", function (event) {
    const dialog = event.target;
    if (dialog instanceof HTMLDialogElement && unsaved(dialog)) {
      event.preventDefault();
      askBeforeClosing(dialog);
    }
  }, true);
  let focusAfterSwap = "";
  function focusNewKey() {
    if (!focusAfterSwap) { return; }
    const row = document.querySelector('[data-authkey="' + CSS.escape(focusAfterSwap) + '"]');
    if (row) { row.focus(); }
  }
  document.addEventListener("close", function (event) {
    const dialog = event.target;
    if (dialog instanceof HTMLDialogElement && dialog.dataset.newKey) {
      focusAfterSwap = dialog.dataset.newKey;
      focusNewKey();
    }
  }, true);
  document.addEventListener("htmx:afterSettle", function () {
    focusNewKey();
    if (document.activeElement && document.activeElement.matches("[data-authkey]")) {
      focusAfterSwap = "";
    }
  });

  document.addEventListener("click", function (event) {
    const secretDialog = event.target.closest("dialog[data-secret-dialog]");
    if (secretDialog) {
      if (event.target.closest("a[data-csv-download]")) {
        secretDialog.dataset.secretSaved = "downloaded";
      } else if (event.target.closest("[data-keep-open]")) {
        keepOpen(secretDialog);
        return;
      } else if (event.target.closest("[data-close-anyway]")) {
        secretDialog.dataset.secretSaved = "declined";
        secretDialog.close();
        return;
      } else if (event.target === secretDialog && unsaved(secretDialog)) {
        askBeforeClosing(secretDialog);  // a click on the backdrop
        return;
      }
    }
    const closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      const dialog = closer.closest("dialog");
      if (dialog && !dialog.hasAttribute("data-page")) {
        event.preventDefault();
        if (unsaved(dialog)) { askBeforeClosing(dialog); } else { dialog.close(); }
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
          const dialog = copy.closest("dialog[data-secret-dialog]");
          if (dialog && copy.dataset.copyTarget === "new-key-secret") {
            dialog.dataset.secretSaved = "copied";
          }
        });
      }
    }
  });
})();

// Permission editors' API-name picker (templates/accounts/partials/api_name_picker.html):
// shown only with script; its button appends {"effect", "api"} to the editor's document.
(function () {
  "use strict";
  function revealPickers(root) {
    if (!root.querySelectorAll) { return; }
    root.querySelectorAll("[data-api-picker][hidden]").forEach(function (picker) {
      picker.hidden = false;
    });
  }
  document.addEventListener("htmx:load", function (event) { revealPickers(event.detail.elt); });
  document.addEventListener("DOMContentLoaded", function () { revealPickers(document); });
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-insert-api]");
    if (!button) { return; }
    const input = document.getElementById(button.dataset.insertApi);
    const effect = document.getElementById(button.dataset.insertEffect);
    const editor = document.getElementById(button.dataset.insertInto);
    const name = input ? input.value.trim() : "";
    if (!editor || !name) { return; }
    let doc;
    try {
      doc = editor.value.trim() ? JSON.parse(editor.value) : { statements: [] };
    } catch (e) {
      doc = null;
    }
    if (!doc || typeof doc !== "object" || !Array.isArray(doc.statements)) {
      button.setAttribute("data-insert-failed", "true");
      button.title = "Fix the JSON first: the statement is added to a valid document.";
      return;
    }
    doc.statements.push({ effect: effect ? effect.value : "allow", api: name });
    editor.value = JSON.stringify(doc, null, 2);
    editor.dispatchEvent(new Event("input", { bubbles: true }));
    input.value = "";
  });
})();
