// The demo application: loads /widget.js from the Accrete server and fires `cta:pricing`.
// Settings come from the form or the query string (?accrete=URL&token=TOKEN&inline=1).
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var urlInput = document.getElementById("accrete-url");
  var tokenInput = document.getElementById("access-token");
  var inlineInput = document.getElementById("inline");
  var status = document.getElementById("status");
  urlInput.value = params.get("accrete") || urlInput.value;
  tokenInput.value = params.get("token") || tokenInput.value;
  inlineInput.checked = params.get("inline") === "1";

  var loading = null;
  function loadWidget(base) {
    if (window.Accrete) return Promise.resolve(window.Accrete);
    if (loading) return loading;
    loading = new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = base.replace(/\/$/, "") + "/widget.js";
      script.onload = function () { resolve(window.Accrete); };
      script.onerror = function () { loading = null; reject(new Error("cannot load " + script.src)); };
      document.head.appendChild(script);
    });
    return loading;
  }

  document.getElementById("see-pricing").addEventListener("click", function () {
    var base = urlInput.value.trim();
    var token = tokenInput.value.trim();
    if (!base || !token) { status.textContent = "Enter the Accrete server and an access token first."; return; }
    // Forget the previous click's outcome, so that a reader (the browser test) sees this one.
    status.removeAttribute("data-outcome");
    // Nothing to say while the widget checks or asks: it speaks for itself.
    status.textContent = "";
    loadWidget(base).then(function (Accrete) {
      return Accrete.prompt({
        event: "cta:pricing",
        token: token,
        baseUrl: base,
        container: inlineInput.checked ? document.getElementById("prompt-area") : undefined
      });
    }).then(function (result) {
      status.setAttribute("data-outcome", result.outcome);
      status.textContent = result.outcome === "none"
        ? "Nothing to ask: here is our pricing."
        : "Outcome: " + result.outcome + " (step " + result.step + "). Here is our pricing.";
    }, function (error) {
      status.setAttribute("data-outcome", "error");
      status.textContent = "Error: " + error.message;
    });
  });
})();
