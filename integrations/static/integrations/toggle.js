/* Integrations switch: ask in the page before switching off an integration with linked
   connections, instead of the server's confirmation page (which stays the no-JS path). */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("toggle-form")) return;
    var linked = parseInt(form.getAttribute("data-linked"), 10) || 0;
    var target = form.querySelector("input[name=enabled]");
    if (!target || target.value !== "off" || linked === 0) return;
    var name = form.getAttribute("data-name");
    var question = "Switch off " + name + "? " + linked + " linked connection" + (linked === 1 ? "" : "s") +
      " will stop syncing on schedule until it is switched on again. Their status stays Linked and their data is kept.";
    if (!window.confirm(question)) {
      event.preventDefault();
      return;
    }
    var confirmed = document.createElement("input");
    confirmed.type = "hidden";
    confirmed.name = "confirmed";
    confirmed.value = "yes";
    form.appendChild(confirmed);
  });
})();
