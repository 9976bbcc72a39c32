/*! Accrete widget: asks progressive-profiling questions inside an application's own pages.
 *
 *   Accrete.prompt({ event: "cta:pricing", token: accessToken, container: element })
 *     .then(function (result) { ... })   // result.outcome: "none" | "answered" | "skipped" | "dismissed"
 *
 * Options: event (required), token (the signed-in user's access token, required), container
 * (an element: the form is rendered inline; absent: in a modal <dialog>), locale ("en", "fr"...),
 * baseUrl (the Accrete server; by default where this script was loaded from).
 * No dependencies, no inline styles or scripts: it works under a strict CSP. Style it through
 * the `accrete-` classes.
 */
(function (global) {
  "use strict";

  var script = global.document && global.document.currentScript;
  var defaultBase = script && script.src ? new URL(script.src).origin : "";
  var counter = 0;

  var TEXTS = {
    en: { submit: "Continue", skip: "Skip for now", close: "Close", error: "Something went wrong. Please try again.", read: "Read the text", newTab: "(opens in a new tab)" },
    fr: { submit: "Continuer", skip: "Plus tard", close: "Fermer", error: "Une erreur est survenue. Veuillez réessayer.", read: "Lire le texte", newTab: "(s’ouvre dans un nouvel onglet)" }
  };

  function texts(locale) {
    var short = (locale || "en").split("-")[0];
    return TEXTS[short] || TEXTS.en;
  }

  function el(tag, attrs, children) {
    var node = global.document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === undefined || value === null || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name in node && typeof value !== "string") node[name] = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function call(base, token, method, path, body, locale) {
    var url = base + "/api/v1" + path + (locale ? (path.indexOf("?") < 0 ? "?" : "&") + "locale=" + encodeURIComponent(locale) : "");
    return global.fetch(url, {
      method: method,
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  /** One input (or group of inputs) for a field. */
  function renderField(field, id, t) {
    var inputId = id + "-" + field.key;
    var errorId = inputId + "-error";
    var helpId = inputId + "-help";
    var described = [field.help ? helpId : null, errorId].filter(Boolean).join(" ");
    var c = field.constraints || {};
    var value = field.value;
    var control;
    var label = el("label", { "for": inputId, "class": "accrete-label", text: field.label + (field.required ? " *" : "") });
    var common = { id: inputId, name: field.key, "aria-describedby": described, required: field.required, "class": "accrete-input" };

    if (field.type === "select" || (field.type === "country" && field.options.length)) {
      control = el("select", common, [el("option", { value: "", text: "" })].concat(field.options.map(function (o) {
        return el("option", { value: o.value, text: o.label, selected: value === o.value });
      })));
    } else if (field.type === "multiselect") {
      label = null;
      var chosen = Array.isArray(value) ? value : [];
      control = el("fieldset", { id: inputId, "class": "accrete-choices", "aria-describedby": described }, [
        el("legend", { "class": "accrete-label", text: field.label + (field.required ? " *" : "") })
      ].concat(field.options.map(function (o, i) {
        var boxId = inputId + "-" + i;
        return el("div", { "class": "accrete-choice" }, [
          el("input", { type: "checkbox", id: boxId, name: field.key, value: o.value, checked: chosen.indexOf(o.value) >= 0 }),
          el("label", { "for": boxId, text: o.label })
        ]);
      })));
    } else if (field.type === "boolean" || field.type === "consent") {
      control = el("input", Object.assign({}, common, { type: "checkbox", checked: value === true || (value && value.accepted === true) }));
    } else if (field.type === "textarea") {
      control = el("textarea", Object.assign({}, common, { maxlength: c.max_length, placeholder: field.placeholder }));
      if (typeof value === "string") control.value = value;
    } else {
      var types = { email: "email", phone: "tel", url: "url", integer: "number", number: "number", date: "date" };
      control = el("input", Object.assign({}, common, {
        type: types[field.type] || "text",
        step: field.type === "number" ? "any" : undefined,
        min: typeof c.min === "number" || typeof c.min === "string" ? c.min : undefined,
        max: typeof c.max === "number" || typeof c.max === "string" ? c.max : undefined,
        maxlength: c.max_length, minlength: c.min_length,
        placeholder: field.placeholder,
        autocomplete: field.autocomplete || undefined
      }));
      if (value !== undefined && value !== null) control.value = String(value);
    }
    // A consent's text, in a new tab so that the form stays as it is (docs/policy.md).
    var text = field.type === "consent" && field.consent_url
      ? el("a", { href: field.consent_url, target: "_blank", rel: "noopener", "class": "accrete-consent-text", text: t.read, "aria-label": t.read + " " + t.newTab })
      : null;
    return el("div", { "class": "accrete-field", "data-key": field.key }, [
      label,
      control,
      text,
      field.help ? el("p", { id: helpId, "class": "accrete-help", text: field.help }) : null,
      el("p", { id: errorId, "class": "accrete-error", role: "alert", hidden: true })
    ]);
  }

  /** The answer of one field, typed as the API expects. */
  function readField(form, field) {
    var inputs = form.querySelectorAll("[name=\"" + field.key + "\"]");
    if (field.type === "multiselect") {
      return Array.prototype.filter.call(inputs, function (i) { return i.checked; }).map(function (i) { return i.value; });
    }
    var input = inputs[0];
    if (!input) return null;
    if (field.type === "boolean" || field.type === "consent") return input.checked;
    if ((field.type === "integer" || field.type === "number") && input.value !== "") {
      var n = Number(input.value);
      return isNaN(n) ? input.value : n;
    }
    return input.value;
  }

  function showErrors(form, fields, problem, t) {
    var first = null;
    form.querySelectorAll(".accrete-error").forEach(function (p) { p.hidden = true; p.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (i) { i.removeAttribute("aria-invalid"); });
    var perField = (problem && problem.fields) || {};
    var general = form.querySelector(".accrete-form-error");
    general.hidden = true;
    Object.keys(perField).forEach(function (key) {
      var box = form.querySelector("[data-key=\"" + key + "\"]");
      var messages = perField[key].map(function (e) { return e.message; }).join(" ");
      if (!box) { general.hidden = false; general.textContent = messages; return; }
      var p = box.querySelector(".accrete-error");
      p.textContent = messages;
      p.hidden = false;
      var input = box.querySelector("input, select, textarea, fieldset");
      if (input) { input.setAttribute("aria-invalid", "true"); first = first || input; }
    });
    if (!Object.keys(perField).length) {
      general.hidden = false;
      general.textContent = (problem && problem.detail) || t.error;
    }
    if (first && first.focus) first.focus();
  }

  /**
   * Reports `event` for the signed-in user and, if a step is due, asks it.
   * Resolves with { outcome, step }; rejects only when the server cannot be reached or refuses
   * the token.
   */
  function prompt(options) {
    var opts = options || {};
    var base = (opts.baseUrl || defaultBase).replace(/\/$/, "");
    var locale = opts.locale || (global.navigator && global.navigator.language) || "en";
    var t = texts(locale);
    if (!opts.event || !opts.token) return Promise.reject(new Error("Accrete.prompt needs an event and a token"));

    return call(base, opts.token, "POST", "/me/events", { name: opts.event }, locale).then(function (reply) {
      if (!reply.ok) {
        var error = new Error((reply.data && reply.data.detail) || ("HTTP " + reply.status));
        error.status = reply.status;
        throw error;
      }
      var step = reply.data && reply.data.step;
      if (!step) return { outcome: "none", step: null };
      // "Protect your account" is set up on the server's own page, not in a form here: the
      // application sends the user there (docs/mfa.md).
      if (step.second_factor) return { outcome: "second_factor", step: step.id, setupUrl: base + "/mfa/setup" };
      return ask(base, opts, locale, t, step);
    });
  }

  function ask(base, opts, locale, t, step) {
    return new Promise(function (resolve) {
      var id = "accrete-" + (++counter);
      var titleId = id + "-title";
      var form = el("form", { "class": "accrete-form", novalidate: true, "aria-labelledby": step.title ? titleId : undefined }, [
        step.title ? el("h2", { id: titleId, "class": "accrete-title", text: step.title }) : null,
        el("p", { "class": "accrete-form-error", role: "alert", hidden: true })
      ].concat(step.fields.map(function (field) { return renderField(field, id, t); })).concat([
        el("div", { "class": "accrete-actions" }, [
          el("button", { type: "submit", name: "action", value: "submit", "class": "accrete-submit", text: t.submit }),
          step.required ? null : el("button", { type: "button", name: "action", value: "skip", "class": "accrete-skip", text: t.skip })
        ])
      ]));

      var dialog = null;
      var container = opts.container;
      if (!container) {
        dialog = el("dialog", { "class": "accrete-dialog", "aria-labelledby": step.title ? titleId : undefined }, [form]);
        global.document.body.appendChild(dialog);
      } else {
        container.appendChild(form);
      }

      function finish(outcome) {
        if (dialog) { if (dialog.open) dialog.close(); dialog.remove(); } else { form.remove(); }
        resolve({ outcome: outcome, step: step.id });
      }

      function busy(on) {
        form.querySelectorAll("button").forEach(function (b) { b.disabled = on; });
        form.setAttribute("aria-busy", on ? "true" : "false");
      }

      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var answers = {};
        step.fields.forEach(function (field) { answers[field.key] = readField(form, field); });
        busy(true);
        call(base, opts.token, "POST", "/me/steps/" + encodeURIComponent(step.id) + "/answers", { answers: answers }, locale)
          .then(function (reply) {
            busy(false);
            if (reply.ok) finish("answered");
            else showErrors(form, step.fields, reply.data, t);
          }, function () { busy(false); showErrors(form, step.fields, null, t); });
      });

      var skip = form.querySelector(".accrete-skip");
      if (skip) {
        skip.addEventListener("click", function () {
          busy(true);
          call(base, opts.token, "POST", "/me/steps/" + encodeURIComponent(step.id) + "/skip", undefined, locale)
            .then(function (reply) {
              busy(false);
              if (reply.ok) finish("skipped");
              else showErrors(form, step.fields, reply.data, t);
            }, function () { busy(false); showErrors(form, step.fields, null, t); });
        });
      }

      if (dialog) {
        // Escape closes an optional step without an answer; a required one stays.
        dialog.addEventListener("cancel", function (e) {
          if (step.required) e.preventDefault();
          else finish("dismissed");
        });
        if (dialog.showModal) dialog.showModal(); else dialog.setAttribute("open", "");
      }
      var first = form.querySelector("input, select, textarea");
      if (first) first.focus();
    });
  }

  global.Accrete = Object.assign(global.Accrete || {}, { prompt: prompt, version: "1" });
})(typeof window !== "undefined" ? window : this);
