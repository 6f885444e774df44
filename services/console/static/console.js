// ticketflow console: the live countdown and the Server-Sent Events refresh of the at-risk
// table, and the sign-in link of `ticketflow dev` (a key in the URL fragment). Vendored with
// the package; no framework, no network but this origin.
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function countdown(seconds) {
    var left = Math.abs(Math.trunc(seconds));
    var hours = Math.floor(left / 3600);
    var minutes = Math.floor((left % 3600) / 60);
    var secs = left % 60;
    var text = hours ? hours + " h " + pad(minutes) + " min" : minutes + " min " + pad(secs) + " s";
    return seconds < 0 ? "overdue " + text : text;
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("#rows tr[data-due]").forEach(function (row) {
      var due = row.getAttribute("data-due");
      var status = row.getAttribute("data-status");
      if (!due || status === "paused") { return; }
      var seconds = (Date.parse(due) - now) / 1000;
      var cell = row.querySelector(".countdown");
      if (cell) { cell.textContent = countdown(seconds); }
      row.classList.toggle("overdue", seconds <= 0);
    });
    var lag = document.getElementById("lag");
    var newest = lag && lag.getAttribute("data-newest");
    if (newest) {
      var behind = Math.max(0, (now - Date.parse(newest)) / 1000);
      lag.textContent = behind < 120 ? Math.round(behind) + " s" : countdown(behind);
    }
  }

  function refresh() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var rows = fresh.getElementById("rows");
        if (rows) { document.getElementById("rows").replaceWith(rows); }
        document.body.setAttribute("data-version", fresh.body.getAttribute("data-version") || "");
        tick();
      });
  }

  function listen() {
    var url = document.body.getAttribute("data-events");
    if (!url || !window.EventSource) { return; }
    var source = new window.EventSource(url);
    source.addEventListener("changed", function (event) {
      var data = JSON.parse(event.data);
      if (data.version !== document.body.getAttribute("data-version")) { refresh(); }
    });
    source.addEventListener("status", function (event) {
      var data = JSON.parse(event.data);
      var lag = document.getElementById("lag");
      if (lag) { lag.setAttribute("data-newest", data.newest_event_at || ""); }
    });
  }

  // `/signin#key=tf_...`: the fragment never reaches the server; fill the form with the key,
  // take the fragment out of the address bar and history, and submit the form as typed in.
  function signInFromLink() {
    var form = document.getElementById("signin");
    var hash = window.location.hash;
    if (!form || !hash || hash.length < 2) { return; }
    var key = new window.URLSearchParams(hash.slice(1)).get("key");
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
    if (!key) { return; }
    form.elements.key.value = key;
    form.submit();
  }

  signInFromLink();
  tick();
  window.setInterval(tick, 1000);
  listen();
})();
