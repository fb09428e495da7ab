// poll.js: the one script of Selo's portals. An element with data-poll="URL"
// makes the page ask URL every two seconds; the answer is JSON
// {"done": bool, "redirect": "/path"}; when done, the page goes to redirect.
// Without JavaScript the page shows a "Continue" link that does the same.
(function () {
  "use strict";
  var el = document.querySelector("[data-poll]");
  if (!el) { return; }
  var url = el.getAttribute("data-poll");
  var tries = 0;
  function tick() {
    tries++;
    if (tries > 300) { return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        if (j && j.done && typeof j.redirect === "string" && j.redirect.charAt(0) === "/" && j.redirect.charAt(1) !== "/") {
          window.location.assign(j.redirect);
          return;
        }
        setTimeout(tick, 2000);
      })
      .catch(function () { setTimeout(tick, 4000); });
  }
  setTimeout(tick, 2000);
})();
