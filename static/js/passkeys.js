// Passkeys (WebAuthn): registration on the MFA page, sign-in on the sign-in pages.
// The server sends the options as JSON and checks every answer (security/passkeys.py);
// this script only hands them to the browser's authenticator and posts the result back.
(function () {
  "use strict";

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    });
  }

  function say(button, text) {
    const out = document.getElementById(button.dataset.passkeyStatus || "passkey-status");
    if (out) { out.textContent = text; out.hidden = false; }
  }

  async function register(button) {
    const field = document.getElementById(button.dataset.passkeyName);
    const name = field ? field.value.trim() : "";
    if (!name) { say(button, "Name the passkey first."); return; }
    try {
      const options = await (await post(button.dataset.passkeyOptions)).json();
      const created = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
      });
      const answer = await post(button.dataset.passkeyRegister, {
        name: name, credential: JSON.stringify(created.toJSON()),
      });
      const data = await answer.json();
      if (answer.ok) { window.location.reload(); } else { say(button, data.error); }
    } catch (error) {
      say(button, "The passkey was not created.");
    }
  }

  async function signIn(button) {
    try {
      const options = await (await post(button.dataset.passkeyOptions)).json();
      const asserted = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
      });
      const answer = await post(button.dataset.passkeyVerify, {
        credential: JSON.stringify(asserted.toJSON()),
      });
      const data = await answer.json();
      if (answer.ok) { window.location.assign(data.next); } else { say(button, data.error); }
    } catch (error) {
      say(button, "No passkey was used.");
    }
  }

  function ready() {
    const supported = window.PublicKeyCredential &&
      typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function";
    document.querySelectorAll("[data-passkey-register], [data-passkey-sign-in]").forEach(function (b) {
      if (supported) { b.hidden = false; }
    });
  }

  document.addEventListener("DOMContentLoaded", ready);
  document.addEventListener("click", function (event) {
    const reg = event.target.closest("[data-passkey-register]");
    if (reg) { event.preventDefault(); register(reg); return; }
    const sign = event.target.closest("[data-passkey-sign-in]");
    if (sign) { event.preventDefault(); signIn(sign); }
  });
})();
