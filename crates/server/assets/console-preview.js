// Live previews of the console (docs/console.md): each <iframe class="preview"
// data-preview-form="FORM-ID" src="/admin/preview/..."> follows the named form. When an input
// whose name starts with "theme." changes, the iframe's address is rebuilt from its own (client,
// locale, step, source) and the form's theme values, a moment after the last keystroke.
// Without this script, the form's "Preview" button does the same with a normal GET.
(function () {
  "use strict";
  var WAIT_MS = 250;

  function themeValues(form) {
    var values = [];
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.name.indexOf("theme.") !== 0 || input.disabled) return;
      if ((input.type === "checkbox" || input.type === "radio") && !input.checked) return;
      if (input.value === "") return;
      values.push([input.name, input.value]);
    });
    return values;
  }

  function follow(frame) {
    var form = document.getElementById(frame.getAttribute("data-preview-form"));
    if (!form) return;
    var timer = null;
    function refresh() {
      var url = new URL(frame.getAttribute("src"), window.location.href);
      var kept = new URLSearchParams();
      url.searchParams.forEach(function (value, name) {
        if (name.indexOf("theme.") !== 0) kept.append(name, value);
      });
      themeValues(form).forEach(function (pair) { kept.append(pair[0], pair[1]); });
      var next = url.pathname + "?" + kept.toString();
      if (next !== frame.getAttribute("src")) frame.setAttribute("src", next);
    }
    function later(event) {
      if (!event.target.name || event.target.name.indexOf("theme.") !== 0) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, WAIT_MS);
    }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("iframe.preview[data-preview-form]"), follow);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
