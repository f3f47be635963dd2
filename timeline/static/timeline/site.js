// Small enhancements; every page works without this file. Its words come from the page
// (data-* attributes, translated in the templates), so it holds no text of its own.
(function () {
  "use strict";

  function copyText(text, input) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-http sites have no Clipboard API: fall back to selecting the field.
    return new Promise(function (resolve, reject) {
      input.focus();
      input.select();
      try {
        document.execCommand("copy") ? resolve() : reject(new Error("copy refused"));
      } catch (error) {
        reject(error);
      }
    });
  }

  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.getElementById(button.getAttribute("data-copy-status"));
    if (!input) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      copyText(input.value, input).then(
        function () {
          if (status) status.textContent = button.getAttribute("data-copied");
        },
        function () {
          input.focus();
          input.select();
          if (status) status.textContent = button.getAttribute("data-copy-failed");
        }
      );
    });
  });

  // Show an exact start in the reader's own time zone as well.
  document.querySelectorAll("[data-your-time]").forEach(function (target) {
    var when = new Date(target.getAttribute("data-your-time"));
    if (isNaN(when.getTime()) || !window.Intl) {
      return;
    }
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var text = new Intl.DateTimeFormat("en-GB", {
      weekday: "short", day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short"
    }).format(when);
    var label = target.getAttribute("data-your-time-label");
    target.textContent = label + (zone ? " (" + zone + ")" : "") + ": " + text;
    target.hidden = false;
  });
})();
