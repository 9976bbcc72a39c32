// Checks a console form as it is typed: a form with `data-check="<url>"` is sent to that URL
// (nothing is saved there) a moment after each change, and the problems that come back are
// placed on their inputs, as the server places them when the form is sent. Without this
// script the same messages appear after sending the form.
(function () {
  "use strict";

  function place(form, errors) {
    form.querySelectorAll("[data-error-for]").forEach(function (slot) {
      var name = slot.getAttribute("data-error-for");
      var message = errors[name];
      var input = form.querySelector('[name="' + name + '"]');
      var field = slot.closest(".field");
      slot.textContent = message || "";
      slot.hidden = !message;
      if (field) field.classList.toggle("has-error", !!message);
      if (input) {
        if (message) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
    });
  }

  function elsewhere(form, messages) {
    var list = form.querySelector("[data-elsewhere]");
    if (!list) return;
    list.textContent = "";
    messages.forEach(function (m) {
      var item = document.createElement("li");
      item.textContent = m;
      list.appendChild(item);
    });
    list.closest("[data-elsewhere-box]").hidden = messages.length === 0;
  }

  document.querySelectorAll("form[data-check]").forEach(function (form) {
    var timer = null;
    var sent = 0;
    function check() {
      var mine = ++sent;
      var body = new URLSearchParams(new FormData(form));
      fetch(form.getAttribute("data-check"), {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (result) {
          // Only the answer to the latest change counts.
          if (!result || mine !== sent) return;
          place(form, result.errors || {});
          elsewhere(form, result.elsewhere || []);
          form.setAttribute("data-checked", String(mine));
        })
        .catch(function () { /* the server checks again when the form is sent */ });
    }
    function later() {
      clearTimeout(timer);
      timer = setTimeout(check, 300);
    }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  });
})();
