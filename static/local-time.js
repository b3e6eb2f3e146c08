// Exact times in the reader's own time zone. The server renders every moment as
// <time datetime="2026-12-26T11:46:05Z" title="26 Dec 2026, 11:46 UTC">3 days ago</time>
// (it cannot know the reader's zone); this swaps the tooltip for the local date and time.
// Without JavaScript the UTC tooltip stays, which is still right. Scripts that add moments to a
// page later (events.js) call window.localTimes(theirElement).
(function () {
  "use strict";
  var style = { dateStyle: "medium", timeStyle: "short" };
  window.localTimes = function (root) {
    var times = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var at = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(at.getTime())) times[i].title = at.toLocaleString(undefined, style);
    }
  };
  window.localTimes(document);
})();
