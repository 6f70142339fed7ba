// Keeps the checkout page current: polls the order's status, updates the words and
// amounts in place, counts down to expiry and copies the amount and address.
(function () {
  "use strict";

  var root = document.getElementById("checkout");
  if (!root) {
    return;
  }
  var statusUrl = root.dataset.statusUrl;
  var period = Number(root.dataset.pollSeconds) * 1000;
  var statusBox = root.querySelector(".status");
  var countdown = root.querySelector('[data-field="countdown"]');
  var deadline = Date.now() + Number(countdown ? countdown.dataset.expiresIn : 0) * 1000;
  var FINAL = ["paid", "cancelled"];

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
      hours > 0 ? hours + " h " + pad(minutes) + " min" : pad(minutes) + ":" + pad(seconds);
  }

  function schedule() {
    if (FINAL.indexOf(root.dataset.status) < 0) {
      window.setTimeout(poll, period);
    }
  }

  function poll() {
    fetch(statusUrl, { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
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
    var done = function () {
      button.textContent = "Copied";
      window.setTimeout(function () {
        button.textContent = "Copy";
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
  schedule();
})();
