// Companion mode: the page that ends a visit submits its form to the identity provider at once.
// Without JavaScript the person presses the form's button.
(function () {
  var form = document.getElementById('companion-return');
  if (form) form.submit();
})();
