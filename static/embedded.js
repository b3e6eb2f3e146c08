// The embedded surface (see src/embedded/mod.rs): trade the session token Fanvue put in the
// URL for a session, then load the server-rendered view with the partitioned cookie and,
// for browsers that block it, the session id as a bearer header. The id lives in this
// page's memory only.
(function () {
  "use strict";
  var status = document.getElementById("embedded-status");
  var title = document.getElementById("embedded-title");
  var message = document.getElementById("embedded-message");
  var app = document.getElementById("embedded-app");
  var session = null;

  var TITLES = {
    idle: "Open this app from Fanvue",
    consent_required: "Approve the app first",
    invalid_session_token: "This session expired",
    reauth_required: "This session ended",
    not_signed_in: "This session ended"
  };

  function show(state, code, text) {
    status.hidden = false;
    status.dataset.state = state;
    status.dataset.code = code || "";
    status.className = state === "error" ? "notice error" : "notice";
    title.textContent = TITLES[code] || (state === "exchanging" ? "Connecting to Fanvue…" : "Something went wrong");
    message.textContent = text || "";
  }

  function headers(extra) {
    var h = { Accept: "application/json" };
    if (session) h.Authorization = "Bearer " + session;
    for (var k in extra) h[k] = extra[k];
    return h;
  }

  function fail(response) {
    return response.json().catch(function () { return {}; }).then(function (body) {
      var code = body.error || "error";
      var text = body.message || "Reopen the app from Fanvue.";
      if (code === "not_signed_in" || code === "reauth_required") text = "Reopen the app from Fanvue to continue.";
      show("error", code, text);
    });
  }

  function load(quietIfSignedOut) {
    return fetch("/embedded/view", { credentials: "include", headers: headers({}) }).then(function (r) {
      if (r.ok) {
        return r.text().then(function (html) {
          app.innerHTML = html; // server-rendered and escaped by askama; no scripts run
          status.hidden = true;
          status.dataset.state = "authenticated";
        });
      }
      if (quietIfSignedOut && r.status === 401) {
        show("idle", "idle", "Open this app from the Fanvue App Store: Fanvue signs you in when it opens the app.");
        return;
      }
      return fail(r);
    });
  }

  var params = new URLSearchParams(window.location.search);
  var token = params.get("token");
  if (token !== null) {
    // The token must not stay in the address, the history or a Referer.
    window.history.replaceState(null, "", window.location.pathname);
  }
  if (!token) {
    load(true).catch(function () { show("error", "error", "The app could not be reached."); });
    return;
  }
  show("exchanging", "", "");
  fetch("/api/embedded/session", {
    method: "POST",
    credentials: "include",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({ sessionToken: token })
  }).then(function (r) {
    if (!r.ok) return fail(r);
    return r.json().then(function (body) {
      session = body.session;
      return load(false);
    });
  }).catch(function () { show("error", "error", "The app could not be reached."); });
})();
