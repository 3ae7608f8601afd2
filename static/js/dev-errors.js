// Development mode only ({% htmx_scripts %} adds it when DEBUG is on): a 5xx answer to an
// htmx request shows Django's debug page in place of the document, so that the trace is
// seen. 4xx answers are the console's own (a dialog re-rendered with its errors, "Not
// allowed"): htmx swaps them where they belong, as in production.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    const xhr = event.detail.xhr;
    if (xhr.status >= 500) {
      event.stopPropagation();
      document.documentElement.innerHTML = xhr.response;
    }
  });
})();
