// Upload progress for the media page. Without JavaScript the form still posts normally;
// with it, the same request is sent with XMLHttpRequest so the bytes sent can be shown.
(function () {
  "use strict";
  var form = document.getElementById("upload");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var progress = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var button = document.getElementById("upload-button");
  var MAX_BYTES = 1610612736; // Fanvue's limit, 1.5 GiB
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("upload-file");
    if (input.files.length && input.files[0].size > MAX_BYTES) {
      status.textContent = "This file is larger than Fanvue's 1.5 GiB limit.";
      return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Upload-Progress", "1");
    progress.hidden = false;
    progress.value = 0;
    button.disabled = true;
    status.textContent = "Uploading…";
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        progress.value = Math.round((e.loaded / e.total) * 100);
        status.textContent = progress.value < 100 ? "Uploading… " + progress.value + "%" : "Sent; Fanvue is processing the file…";
      }
    });
    xhr.addEventListener("load", function () {
      var next = null;
      try { next = JSON.parse(xhr.responseText).next; } catch (e) { next = null; }
      if (xhr.status === 200 && typeof next === "string" && next.charAt(0) === "/") {
        window.location.assign(next);
      } else {
        document.open();
        document.write(xhr.responseText);
        document.close();
      }
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      status.textContent = "The upload failed: the connection was lost. Try again.";
    });
    xhr.send(new FormData(form));
  });
})();
