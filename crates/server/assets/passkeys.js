// Passkeys on the hosted pages: "Add a passkey" on /account/security, "Sign in with a passkey"
// and the browser's autofill on /login. No dependencies. The server sends WebAuthn options as
// JSON with base64url strings where the browser wants bytes; this turns them into
// ArrayBuffers, calls navigator.credentials, and sends the credential back the same way.
// Without JavaScript or passkey support the buttons stay hidden and the pages work as before.
(function () {
  'use strict';

  var supported = !!(window.PublicKeyCredential && navigator.credentials &&
    navigator.credentials.create && navigator.credentials.get);

  function toBuffer(text) {
    var base64 = text.replace(/-/g, '+').replace(/_/g, '/');
    while (base64.length % 4) base64 += '=';
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = '';
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function withIds(list) {
    return (list || []).map(function (c) {
      var copy = Object.assign({}, c);
      copy.id = toBuffer(c.id);
      return copy;
    });
  }

  function creationOptions(options) {
    var pk = Object.assign({}, options.publicKey);
    pk.challenge = toBuffer(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: toBuffer(pk.user.id) });
    pk.excludeCredentials = withIds(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function requestOptions(options) {
    var pk = Object.assign({}, options.publicKey);
    pk.challenge = toBuffer(pk.challenge);
    pk.allowCredentials = withIds(pk.allowCredentials);
    return { publicKey: pk };
  }

  function credentialJson(credential) {
    var r = credential.response;
    var json = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      json.response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) json.response.transports = r.getTransports();
    } else {
      json.response.authenticatorData = toText(r.authenticatorData);
      json.response.signature = toText(r.signature);
      if (r.userHandle) json.response.userHandle = toText(r.userHandle);
    }
    return json;
  }

  // POSTs JSON; resolves with the answer, rejects with the server's sentence (or `fallback`).
  function post(url, body, fallback) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (!response.ok) throw new Error(answer.message || fallback);
        return answer;
      });
    }, function () { throw new Error(fallback); });
  }

  // The sentence for an error of navigator.credentials, from the box's data-* attributes.
  function browserError(box, error) {
    if (error && error.name === 'NotAllowedError') return box.dataset.msgCancelled;
    if (error && error.name === 'InvalidStateError') return box.dataset.msgExists || box.dataset.msgFailed;
    return box.dataset.msgFailed;
  }

  function say(box, text) {
    var status = box.querySelector('[data-passkey-status]');
    if (!status) return;
    status.textContent = text || '';
    status.hidden = !text;
  }

  function reveal(box) {
    box.querySelectorAll('[data-passkey-needs-js]').forEach(function (el) { el.hidden = false; });
    box.querySelectorAll('[data-passkey-no-js]').forEach(function (el) { el.hidden = true; });
  }

  function csrfOf(box) {
    var input = box.querySelector('input[name="csrf"]') ||
      document.querySelector('input[name="csrf"]');
    return input ? input.value : '';
  }

  // /account/security: "Add a passkey".
  function registration(box) {
    var button = box.querySelector('[data-passkey-add]');
    if (!button) return;
    if (!supported) {
      box.querySelectorAll('[data-passkey-no-js]').forEach(function (el) { el.hidden = true; });
      say(box, box.dataset.msgUnsupported);
      return;
    }
    reveal(box);
    button.addEventListener('click', function () {
      var nameInput = box.querySelector('input[name="passkey_name"]');
      var csrf = csrfOf(box);
      button.disabled = true;
      say(box, '');
      post(box.dataset.optionsUrl, { csrf: csrf }, box.dataset.msgFailed)
        .then(function (started) {
          return navigator.credentials.create(creationOptions(started.options))
            .then(function (credential) {
              return post(box.dataset.finishUrl, {
                csrf: csrf,
                ceremony: started.ceremony,
                name: nameInput ? nameInput.value : '',
                credential: credentialJson(credential)
              }, box.dataset.msgFailed);
            }, function (error) { throw new Error(browserError(box, error)); });
        })
        .then(function (done) { window.location.assign(done.redirect); })
        .catch(function (error) { say(box, error.message); button.disabled = false; });
    });
  }

  // /login: "Sign in with a passkey", and the passkeys in the email field's suggestions.
  function signIn(box) {
    var button = box.querySelector('[data-passkey-signin]');
    if (!button) return;
    if (!supported) return;
    reveal(box);
    var tx = box.dataset.tx || null;
    var autofill = null;

    function finish(started, credential) {
      return post(box.dataset.finishUrl, {
        csrf: csrfOf(box),
        tx: tx,
        ceremony: started.ceremony,
        credential: credentialJson(credential)
      }, box.dataset.msgFailed).then(function (done) { window.location.assign(done.redirect); });
    }

    function startAutofill() {
      if (!window.PublicKeyCredential.isConditionalMediationAvailable) return;
      window.PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) return;
        post(box.dataset.optionsUrl, { csrf: csrfOf(box), tx: tx, autofill: true }, '')
          .then(function (started) {
            var controller = new AbortController();
            var options = requestOptions(started.options);
            options.mediation = 'conditional';
            options.signal = controller.signal;
            var pending = navigator.credentials.get(options).then(function (credential) {
              autofill = null;
              return finish(started, credential);
            }).catch(function (error) {
              // Aborted for the button, or nothing chosen: quiet; a refusal is said.
              if (error && error.name !== 'AbortError' && error.name !== 'NotAllowedError') {
                say(box, error.message || box.dataset.msgFailed);
              }
            });
            autofill = { controller: controller, pending: pending };
          }, function () { /* no autofill; the button still works */ });
      }, function () {});
    }

    // The browser serves one request at a time: the autofill one ends before the button's.
    function stopAutofill() {
      if (!autofill) return Promise.resolve();
      var running = autofill;
      autofill = null;
      running.controller.abort();
      return running.pending;
    }

    button.addEventListener('click', function () {
      button.disabled = true;
      say(box, '');
      stopAutofill()
        .then(function () {
          return post(box.dataset.optionsUrl, { csrf: csrfOf(box), tx: tx, autofill: false },
            box.dataset.msgFailed);
        })
        .then(function (started) {
          return navigator.credentials.get(requestOptions(started.options))
            .then(function (credential) { return finish(started, credential); },
              function (error) { throw new Error(browserError(box, error)); });
        })
        .catch(function (error) { say(box, error.message); button.disabled = false; });
    });

    // The second-factor page asks for the user's own passkeys with its button only.
    if (box.dataset.autofill !== 'off') startAutofill();
  }

  function ready() {
    document.querySelectorAll('[data-passkey-register]').forEach(registration);
    document.querySelectorAll('[data-passkey-login]').forEach(signIn);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', ready);
  } else {
    ready();
  }
})();
