// Switchyard "call me back" widget. Put it where the form should appear:
//   <script src="https://PBX/widget/TENANT/NAME/widget.js" async></script>
// It asks the host for a short-lived token, then for the callback, and says
// what happened. Nothing else is loaded; the page's styles are untouched
// except inside the form (class names start with `sy-`).
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(script.src).origin;
  var path = "/widget/__TENANT__/__NAME__";
  var box = document.createElement("form");
  box.className = "sy-callback";
  box.setAttribute("aria-live", "polite");
  box.innerHTML =
    '<strong class="sy-title" style="display:block;margin-bottom:.4em"></strong>' +
    '<label class="sy-label">Your number, in international form ' +
    '<input class="sy-number" type="tel" name="number" autocomplete="tel" ' +
    'placeholder="+44 20 7946 0000" required></label> ' +
    '<button class="sy-send" type="submit">Call me back</button>' +
    '<p class="sy-result" role="status"></p>';
  box.querySelector(".sy-title").textContent = __TITLE__;
  script.parentNode.insertBefore(box, script.nextSibling);
  var result = box.querySelector(".sy-result");
  var button = box.querySelector(".sy-send");
  function say(text, ok) {
    result.textContent = text;
    result.setAttribute("data-state", ok ? "ok" : "error");
  }
  function post(what, body) {
    return fetch(base + path + "/" + what, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(
        function (j) { return { status: r.status, body: j }; },
        function () { return { status: r.status, body: {} }; }
      );
    });
  }
  box.addEventListener("submit", function (e) {
    e.preventDefault();
    button.disabled = true;
    say("Sending…", true);
    var number = box.querySelector(".sy-number").value;
    post("token", {})
      .then(function (t) {
        if (t.status !== 200) { throw t; }
        return post("callback", { number: number, token: t.body.token });
      })
      .then(function (r) {
        if (r.status !== 202) { throw r; }
        say(r.body.message, true);
      })
      .catch(function (r) {
        var m = r && r.body && r.body.message;
        say(m || "Sorry, the call back could not be asked for. Please call us instead.", false);
        button.disabled = false;
      });
  });
})();
