// Isengard: report browser-side errors to the server (logs/web/latest/client.log). Never throws.
(function () {
  if (window.__isengardHook) return;
  window.__isengardHook = true;
  var sent = 0;
  function send(kind, message, extra) {
    if (sent >= 50) return; // a broken page must not flood the log
    sent += 1;
    try {
      var body = JSON.stringify(Object.assign({
        kind: kind,
        message: String(message || "").slice(0, 2000),
        url: String(location.href).slice(0, 500),
        user_agent: navigator.userAgent
      }, extra || {}));
      fetch("isengard/client-log", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: body,
        credentials: "same-origin",
        keepalive: true
      }).catch(function () {});
    } catch (e) { /* reporting must never break the page */ }
  }
  window.addEventListener("error", function (e) {
    send("error", e.message, {
      source: e.filename, line: e.lineno, column: e.colno,
      stack: e.error && e.error.stack ? String(e.error.stack).slice(0, 4000) : null
    });
  });
  window.addEventListener("unhandledrejection", function (e) {
    var r = e.reason;
    send("unhandledrejection", r && r.message ? r.message : r, {
      stack: r && r.stack ? String(r.stack).slice(0, 4000) : null
    });
  });
})();
// Isengard: tell the person when a training ends, even if the tab is in the background. The header keeps
// a list of trainings that ended lately (#isg-finished-list); the ones already there when the page
// opened are old news, any that appear later get one browser notification (if allowed).
(function () {
  if (window.__isengardNotifier) return;
  window.__isengardNotifier = true;
  var seen = null;
  function scan() {
    try {
      var items = document.querySelectorAll("#isg-finished-list [data-job]");
      if (seen === null) {
        if (!document.querySelector("#isg-finished-list")) return; // not drawn yet
        seen = {};
        items.forEach(function (el) { seen[el.dataset.job] = true; });
        return;
      }
      items.forEach(function (el) {
        var id = el.dataset.job;
        if (seen[id]) return;
        seen[id] = true;
        if (!window.Notification || Notification.permission !== "granted") return;
        new Notification("Isengard", { body: el.dataset.text || "A training ended.", tag: "isengard-" + id });
      });
    } catch (e) { /* a notification must never break the page */ }
  }
  setInterval(scan, 1000);
})();
