/*
 * The review-mode page (templates/reviews/review.html); no inline script.
 *
 * 1. Countdowns for the current step and the whole review, computed from the
 *    times the server stored (the #review-clock JSON and the state API), so a
 *    reload or a second screen shows the same clock. The offset between this
 *    machine's clock and the server's is taken from `server_now`.
 * 2. Every few seconds the page asks the state API whether the review moved on
 *    (`revision`) or the document changed (`postmortem_version`). If so it
 *    reloads — unless someone is typing here, then it only says so.
 * 3. A full-screen button for the projector.
 */
(function () {
  "use strict";

  var POLL_MS = 3000;
  var root = document.getElementById("review");
  var clockScript = document.getElementById("review-clock");
  if (!root || !clockScript) {
    return;
  }
  var clock = JSON.parse(clockScript.textContent);
  var offsetMs = Date.parse(clock.server_now) - Date.now();
  var knownRevision = Number(root.getAttribute("data-revision"));
  var knownVersion = Number(root.getAttribute("data-pm-version"));

  function serverNow() {
    return Date.now() + offsetMs;
  }

  function format(seconds) {
    var sign = seconds < 0 ? "+" : "";
    var s = Math.abs(Math.round(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var r = s % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return sign + (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
  }

  function setClock(name, remaining, plannedMinutes) {
    var el = root.querySelector('[data-clock="' + name + '"]');
    var box = root.querySelector('[data-clock-box="' + name + '"]');
    var sub = root.querySelector('[data-clock-sub="' + name + '"]');
    if (!el || !box) {
      return;
    }
    el.textContent = format(remaining);
    box.classList.toggle("is-over", remaining < 0);
    box.classList.toggle("is-ending", remaining >= 0 && remaining <= 60);
    if (sub) {
      sub.textContent = remaining < 0 ? "over " + plannedMinutes + " min" : "left of " + plannedMinutes + " min";
    }
  }

  function tick() {
    if (clock.status !== "running") {
      return;
    }
    var now = serverNow();
    if (clock.step_ends_at) {
      var current = clock.steps[clock.current_step];
      setClock("step", (Date.parse(clock.step_ends_at) - now) / 1000, current ? current.minutes : 0);
      var fill = root.querySelector('[data-step-fill="' + clock.current_step + '"]');
      if (fill && current) {
        var elapsed = (now - Date.parse(clock.step_started_at)) / 1000;
        fill.style.width = Math.min(100, Math.max(0, (100 * elapsed) / (current.minutes * 60))) + "%";
        fill.classList.toggle("is-over", elapsed > current.minutes * 60);
      }
    }
    if (clock.meeting_ends_at) {
      setClock("meeting", (Date.parse(clock.meeting_ends_at) - now) / 1000, clock.planned_minutes);
    }
  }

  function fillDoneSteps() {
    clock.steps.forEach(function (step) {
      if (step.state !== "done") {
        return;
      }
      var fill = root.querySelector('[data-step-fill="' + step.index + '"]');
      if (fill) {
        fill.style.width = "100%";
        fill.classList.toggle("is-over", step.seconds !== null && step.seconds > step.minutes * 60);
      }
    });
  }

  // Is someone typing on this screen? Then a reload would lose their text.
  function busy() {
    var active = document.activeElement;
    if (active && active.form && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) && active.type !== "hidden") {
      return true;
    }
    var fields = root.querySelectorAll("textarea, input[type=text], input[type=date]");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== fields[i].defaultValue) {
        return true;
      }
    }
    return Boolean(root.querySelector("details.rv-edit[open], [data-conflict]"));
  }

  var banner = root.querySelector("[data-stale-banner]");
  function behind() {
    if (busy()) {
      if (banner) {
        banner.hidden = false;
      }
    } else {
      window.location.reload();
    }
  }

  function poll() {
    var url = root.getAttribute("data-state-url");
    if (!url || !window.fetch) {
      return;
    }
    var sent = Date.now();
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (state) {
        if (!state) {
          return;
        }
        var rtt = Date.now() - sent;
        offsetMs = Date.parse(state.server_now) + rtt / 2 - Date.now();
        if (state.revision !== knownRevision || state.postmortem_version !== knownVersion) {
          behind();
        }
      })
      .catch(function () {
        /* offline for a moment: keep counting from what we know */
      });
  }

  var reloadButton = root.querySelector("[data-reload]");
  if (reloadButton) {
    reloadButton.addEventListener("click", function () {
      window.location.reload();
    });
  }

  var fullscreen = root.querySelector("[data-fullscreen]");
  if (fullscreen && document.documentElement.requestFullscreen) {
    fullscreen.hidden = false;
    fullscreen.addEventListener("click", function () {
      if (document.fullscreenElement) {
        document.exitFullscreen();
      } else {
        document.documentElement.requestFullscreen();
      }
    });
  }

  fillDoneSteps();
  tick();
  window.setInterval(tick, 250);
  if (clock.status === "running" || clock.status === "scheduled") {
    window.setInterval(poll, POLL_MS);
  }
})();
