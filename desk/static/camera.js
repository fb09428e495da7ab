// Selo identity check: take the document's photos and the selfie with the
// camera. Each <fieldset data-camera> holds a file input; this script shows
// the camera, and the photo taken becomes that input's file, so the form
// posts exactly as it does without JavaScript (the file inputs alone).
"use strict";
(function () {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof DataTransfer === "undefined") {
    return; // no camera API: the file inputs stay as they are
  }
  var streams = [];
  function stopAll() {
    streams.forEach(function (s) { s.getTracks().forEach(function (t) { t.stop(); }); });
    streams = [];
  }
  document.querySelectorAll("fieldset[data-camera]").forEach(function (set) {
    var kind = set.getAttribute("data-camera");
    var box = set.querySelector(".camera");
    var video = box.querySelector("video");
    var canvas = box.querySelector("canvas");
    var start = box.querySelector("button.start");
    var shoot = box.querySelector("button.shoot");
    var taken = box.querySelector(".taken");
    var input = set.querySelector("input[type=file]");
    box.hidden = false;
    canvas.hidden = true;
    start.addEventListener("click", function () {
      stopAll();
      var facing = kind === "selfie" ? "user" : "environment";
      navigator.mediaDevices.getUserMedia({ video: { facingMode: facing, width: { ideal: 1280 } }, audio: false })
        .then(function (stream) {
          streams.push(stream);
          video.srcObject = stream;
          shoot.disabled = false;
        })
        .catch(function (err) {
          start.textContent = start.textContent + " — " + err.name;
        });
    });
    shoot.addEventListener("click", function () {
      var w = video.videoWidth, h = video.videoHeight;
      if (!w || !h) { return; }
      canvas.width = w;
      canvas.height = h;
      canvas.getContext("2d").drawImage(video, 0, 0, w, h);
      canvas.toBlob(function (blob) {
        if (!blob) { return; }
        var dt = new DataTransfer();
        dt.items.add(new File([blob], kind + ".jpg", { type: "image/jpeg" }));
        input.files = dt.files;
        canvas.hidden = false;
        taken.hidden = false;
        set.setAttribute("data-taken", "true");
        stopAll();
        video.srcObject = null;
        shoot.disabled = true;
      }, "image/jpeg", 0.9);
    });
  });
  window.addEventListener("pagehide", stopAll);
})();
