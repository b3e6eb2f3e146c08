// Live updates of the events pages (templates/pages/events.html) from their feed: the
// table's data-stream (/events/stream for a creator, /operator/events/stream for operators).
// The feed starts with the recent list, then live notices: a row already on the page is
// updated in place (by id), a new one goes on top. Rows are built with textContent only: event
// data never becomes markup. When the session ends the server sends `end` and closes; the page
// says so and stops reconnecting.
(function () {
  "use strict";
  var body = document.getElementById("event-rows");
  if (!body || !window.EventSource) return;

  function newRow() {
    var row = document.createElement("tr");
    // The cells of the server's rows: a class to fill, a label for the stacked phone layout.
    function cell(cls, label) {
      var td = document.createElement("td");
      if (cls) td.className = cls;
      td.dataset.label = label;
      row.appendChild(td);
      return td;
    }
    cell("event-id", "#");
    cell("event-received", "Received");
    var what = document.createElement("span");
    what.className = "event-what";
    var name = document.createElement("span");
    name.className = "event-type";
    var detail = document.createElement("small");
    detail.className = "event-detail muted";
    what.appendChild(name);
    what.appendChild(detail);
    cell("", "Type").appendChild(what);
    cell("event-verification", "Signature");
    cell("event-state", "State");
    cell("event-deliveries", "Deliveries");
    cell("event-attempts", "Attempts");
    return row;
  }

  var stream = body.dataset.stream;
  if (!stream || stream.charAt(0) !== "/") return;
  var source = new EventSource(stream);
  source.addEventListener("end", function () {
    source.close();
    var ended = document.getElementById("feed-ended");
    if (ended) ended.hidden = false;
  });
  source.addEventListener("webhook", function (message) {
    var n;
    try { n = JSON.parse(message.data); } catch (e) { return; }
    var id = n.id === null ? "" : String(n.id);
    var row = id ? body.querySelector('tr[data-id="' + id + '"]') : null;
    if (!row) {
      row = newRow();
      body.insertBefore(row, body.firstChild);
      // As the server renders it (it words the moment): relative, with the exact local time
      // as the tooltip (local-time.js, loaded on every page).
      var time = document.createElement("time");
      time.dateTime = n.receivedIso;
      time.textContent = n.receivedRelative;
      row.querySelector(".event-received").appendChild(time);
      if (window.localTimes) window.localTimes(row);
      var empty = document.getElementById("no-events");
      if (empty) empty.remove();
    }
    row.dataset.id = id;
    row.dataset.state = n.state;
    row.dataset.verification = n.verification;
    var set = function (cls, text) { row.querySelector("." + cls).textContent = text; };
    set("event-id", id);
    set("event-type", n.typeName);
    set("event-detail", n.detail || "");
    set("event-verification", n.verificationLabel);
    set("event-state", n.stateLabel);
    set("event-deliveries", String(n.deliveries));
    set("event-attempts", String(n.attempts));
  });
})();
