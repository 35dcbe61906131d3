// The code login page: ask every 2 seconds whether the code was sent in chat (10 minutes).
(function () {
  var tries = 0;
  function poll() {
    if (++tries > 300) { return; }
    fetch("/admin/login/wait", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.ok) { window.location.href = body.next; } else { setTimeout(poll, 2000); }
      })
      .catch(function () { setTimeout(poll, 4000); });
  }
  setTimeout(poll, 2000);
})();
