// Switchyard "call me back" widget, with "call us" when the tenant's widget
// names a number. Put it where the form should appear:
//   <script src="https://PBX/widget/TENANT/NAME/widget.js" async></script>
// It asks the host for a short-lived token, then for the callback, and says
// what happened. "Call us" asks for a ticket and loads the host's call
// script (/widget/call.js: JsSIP) only when pressed; the browser then
// asks for the microphone and calls over the host's SIP WebSocket. The
// page's styles are untouched except inside the form (class names start
// with `sy-`).
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
    '<p class="sy-result" role="status"></p>' +
    (__CALL__
      ? '<p class="sy-call"><button class="sy-call-start" type="button">Call us</button> ' +
        '<button class="sy-call-end" type="button" disabled>Hang up</button> ' +
        '<span class="sy-call-state" role="status" data-state="idle"></span></p>'
      : "");
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
  var callStart = box.querySelector(".sy-call-start");
  var callEnd = box.querySelector(".sy-call-end");
  var callState = box.querySelector(".sy-call-state");
  var words = {
    asking: "Connecting…", connecting: "Calling…", ringing: "Ringing…",
    talking: "Connected", ended: "Call ended", failed: "The call could not be made",
  };
  function callSays(state, detail) {
    callState.setAttribute("data-state", state);
    callState.textContent = (words[state] || state) + (state === "failed" && detail ? " (" + detail + ")" : "");
    var over = state === "ended" || state === "failed";
    callStart.disabled = !over;
    callEnd.disabled = over;
  }
  function callScript() {
    if (window.SwitchyardWebCall) { return Promise.resolve(); }
    return new Promise(function (ok, fail) {
      var s = document.createElement("script");
      s.src = base + "/widget/call.js";
      s.onload = ok;
      s.onerror = function () { fail({ body: { message: "the call script did not load" } }); };
      document.head.appendChild(s);
    });
  }
  if (callStart) {
    callStart.addEventListener("click", function () {
      callSays("asking");
      post("token", {})
        .then(function (t) {
          if (t.status !== 200) { throw t; }
          return post("call", { token: t.body.token });
        })
        .then(function (r) {
          if (r.status !== 200) { throw r; }
          return callScript().then(function () { return r.body; });
        })
        .then(function (c) {
          var call = window.SwitchyardWebCall.start({
            ws: base.replace(/^http/, "ws") + c.websocket_path,
            domain: c.domain,
            number: c.number,
            ticket: c.ticket,
            onState: callSays,
          });
          callEnd.onclick = function () { call.hangup(); };
        })
        .catch(function (r) {
          var m = r && r.body && r.body.message;
          callSays("failed", m || "");
        });
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
