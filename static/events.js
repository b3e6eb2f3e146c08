// Live updates of the events pages (templates/pages/events.html) from their feed: the
// table's data-stream (/events/stream for a creator, /operator/events/stream for operators).
// Rows are built with textContent only: event data never becomes markup. When the session
// ends the server sends `end` and closes; the page says so and stops reconnecting.
(function () {
  "use strict";
  var body = document.getElementById("event-rows");
  if (!body || !window.EventSource) return;

  function newRow() {
    var row = document.createElement("tr");
    function cell(cls) {
      var td = document.createElement("td");
      if (cls) td.className = cls;
      row.appendChild(td);
      return td;
    }
    cell("event-id");
    cell("event-received");
    var type = cell("");
    var name = document.createElement("span");
    name.className = "event-type";
    var detail = document.createElement("small");
    detail.className = "event-detail muted";
    type.appendChild(name);
    type.appendChild(document.createElement("br"));
    type.appendChild(detail);
    cell("event-verification");
    cell("event-state");
    cell("event-deliveries");
    cell("event-attempts");
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
      row.querySelector(".event-received").textContent =
        new Date(n.receivedAt).toISOString().slice(0, 16).replace("T", " ");
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
    set("event-verification", n.verification);
    set("event-state", n.state);
    set("event-deliveries", String(n.deliveries));
    set("event-attempts", String(n.attempts));
  });
})();
