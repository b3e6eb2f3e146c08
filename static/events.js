// Live updates of the events page (templates/pages/events.html) from /events/stream.
// Rows are built with textContent only: event data never becomes markup.
(function () {
  "use strict";
  var body = document.getElementById("event-rows");
  if (!body || !window.EventSource) return;
  var columns = ["id", "received", "typeName", "verification", "state", "deliveries", "attempts", "detail"];
  var classes = ["", "", "event-type", "event-verification", "event-state", "event-deliveries", "event-attempts", "event-detail"];
  var source = new EventSource("/events/stream");
  source.addEventListener("webhook", function (message) {
    var n;
    try { n = JSON.parse(message.data); } catch (e) { return; }
    var values = {
      id: n.id === null ? "" : String(n.id),
      received: new Date(n.receivedAt).toISOString().slice(0, 16).replace("T", " "),
      typeName: n.typeName,
      verification: n.verification,
      state: n.state,
      deliveries: String(n.deliveries),
      attempts: String(n.attempts),
      detail: n.detail || ""
    };
    var row = n.id === null ? null : body.querySelector('tr[data-id="' + values.id + '"]');
    if (!row) {
      row = document.createElement("tr");
      columns.forEach(function (_, i) {
        var cell = document.createElement("td");
        if (classes[i]) cell.className = classes[i];
        row.appendChild(cell);
      });
      body.insertBefore(row, body.firstChild);
      var empty = document.getElementById("no-events");
      if (empty) empty.remove();
    }
    row.dataset.id = values.id;
    row.dataset.state = values.state;
    row.dataset.verification = values.verification;
    columns.forEach(function (key, i) {
      if (key === "received" && row.cells[i].textContent) return;
      row.cells[i].textContent = values[key];
    });
  });
})();
