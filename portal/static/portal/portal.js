/* Progressive enhancement only: every action also works without JavaScript. */
(function () {
  "use strict";

  // Copy buttons: <button data-copy="#input-id">Copy</button>
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.value || source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { source.select && source.select(); document.execCommand("copy"); done(); });
    } else {
      source.select && source.select();
      document.execCommand("copy");
      done();
    }
  });

  // Confirmations: <form data-confirm="Are you sure?">
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // Times in the viewer's own time zone: <time datetime="ISO">
  var formatter = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  function localise(root) {
    root.querySelectorAll("time[datetime]").forEach(function (node) {
      if (node.dataset.localised) return;
      var when = new Date(node.getAttribute("datetime"));
      if (isNaN(when)) return;
      var date = node.querySelector(".when-date");
      if (!date) return;
      date.textContent = formatter.format(when);
      node.dataset.localised = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  document.addEventListener("htmx:afterSwap", function (event) { localise(event.target); });
})();
