// Keeps the checkout page current: follows the order's state on its event stream (or,
// when the stream is refused or the browser has none, polls it), updates the words and
// amounts in place, counts down to expiry and copies the amount and address.
(function () {
  "use strict";

  var root = document.getElementById("checkout");
  if (!root) {
    return;
  }
  var statusUrl = root.dataset.statusUrl;
  var streamUrl = root.dataset.streamUrl;
  var period = Number(root.dataset.pollSeconds) * 1000;
  var statusBox = root.querySelector(".status");
  var countdown = root.querySelector('[data-field="countdown"]');
  var deadline = Date.now() + Number(countdown ? countdown.dataset.expiresIn : 0) * 1000;
  var FINAL = ["paid", "cancelled"];
  // the page's language: the server puts the few words this script writes on the root
  var words = {
    copied: root.dataset.copied || "Copied",
    hours: root.dataset.hours || "h",
    minutes: root.dataset.minutes || "min",
  };

  function setText(name, text) {
    var node = root.querySelector('[data-field="' + name + '"]');
    if (node && node.textContent !== text) {
      node.textContent = text;
    }
  }

  function apply(state) {
    if (state.status === "pending" && state.amount_remaining !== root.dataset.remaining) {
      // a part arrived: the amount, QR code and wallet link must ask for the rest
      window.location.reload();
      return;
    }
    root.dataset.status = state.status;
    statusBox.dataset.status = state.status;
    ["headline", "detail", "amount", "amount_received", "amount_remaining"].forEach(
      function (name) {
        setText(name, state[name]);
      }
    );
    root.querySelector("[data-summary]").hidden =
      state.status === "pending" && state.amount_received === "0";
    var partial = root.querySelector("[data-partial]");
    partial.hidden = state.amount_received === "0" || state.amount_remaining === "0";
    root.querySelectorAll("[data-when]").forEach(function (node) {
      node.hidden = node.dataset.when.split(" ").indexOf(state.status) < 0;
    });
    deadline = Date.now() + state.expires_in * 1000;
    tick();
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function tick() {
    if (!countdown) {
      return;
    }
    var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    var hours = Math.floor(left / 3600);
    var minutes = Math.floor((left % 3600) / 60);
    var seconds = left % 60;
    countdown.textContent =
      hours > 0
        ? hours + " " + words.hours + " " + pad(minutes) + " " + words.minutes
        : pad(minutes) + ":" + pad(seconds);
  }

  function schedule() {
    if (FINAL.indexOf(root.dataset.status) < 0) {
      window.setTimeout(poll, period);
    }
  }

  function listen() {
    if (FINAL.indexOf(root.dataset.status) >= 0) {
      return;
    }
    if (!window.EventSource || !streamUrl) {
      schedule();
      return;
    }
    var source = new EventSource(streamUrl);
    source.addEventListener("state", function (event) {
      var state = JSON.parse(event.data);
      if (FINAL.indexOf(state.status) >= 0) {
        source.close(); // else EventSource would reconnect to hear the same again
      }
      apply(state);
    });
    source.onerror = function () {
      // a stream that dropped reconnects by itself; a refused one (busy, unavailable) is
      // closed for good, and the page asks for the state instead
      if (source.readyState === EventSource.CLOSED) {
        schedule();
      }
    };
  }

  var etag = null;

  function poll() {
    var headers = { Accept: "application/json" };
    if (etag) {
      // unchanged since the last answer: a 304 with no body, and the countdown goes on
      headers["If-None-Match"] = etag;
    }
    fetch(statusUrl, { cache: "no-store", headers: headers })
      .then(function (response) {
        if (response.status === 304 || !response.ok) {
          return null;
        }
        etag = response.headers.get("ETag");
        return response.json();
      })
      .then(function (state) {
        if (state) {
          apply(state);
        }
      })
      .catch(function () {
        // offline for a moment: the next poll tries again
      })
      .then(schedule);
  }

  function copy(button) {
    var source = document.getElementById(button.dataset.copy);
    var text = source.textContent.trim();
    var label = button.dataset.label || (button.dataset.label = button.textContent);
    var done = function () {
      button.textContent = words.copied;
      window.setTimeout(function () {
        button.textContent = label;
      }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {
        select(source);
      });
    } else {
      select(source);
    }
  }

  function select(node) {
    // no clipboard access (plain http): select the text so the buyer can copy it
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  root.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      copy(button);
    });
  });
  tick();
  window.setInterval(tick, 1000);
  listen();
})();
