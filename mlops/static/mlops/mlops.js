// The tag model in the UI: one-click decisions on suggestion chips, and training progress.
// Both are enhancements: without JavaScript the chips post a form and the page reloads.
(function () {
  "use strict";

  function showError(box, text) {
    var el = box && box.querySelector("[data-chips-error]");
    if (!el) { window.alert(text); return; }
    el.textContent = text;
    el.hidden = false;
  }

  // A chip button: post the decision, then put the link's chips as the server now renders them.
  function decide(button) {
    var form = document.getElementById(button.getAttribute("form"));
    var box = button.closest("[data-chips]");
    if (!form || !box) return false;
    var body = new FormData(form);
    body.append(button.name, button.value);
    body.append("view", box.getAttribute("data-chips-view") || "list");
    box.querySelectorAll("button[data-decide]").forEach(function (b) { b.disabled = true; });
    box.setAttribute("aria-busy", "true");
    fetch(button.formAction, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-Requested-With": "fetch" }
    })
      .then(function (r) {
        return r.json().catch(function () { return { detail: "The server answered " + r.status + "." }; })
          .then(function (data) { return { ok: r.ok, data: data }; });
      })
      .then(function (res) {
        if (res.ok && res.data.html) {
          var holder = document.createElement("div");
          holder.innerHTML = res.data.html;
          var fresh = holder.firstElementChild;
          box.replaceWith(fresh);
          fresh.setAttribute("data-decided", res.data.action + ":" + res.data.tag);
          return;
        }
        box.removeAttribute("aria-busy");
        box.querySelectorAll("button[data-decide]").forEach(function (b) { b.disabled = false; });
        showError(box, res.data.detail || "That did not work; reload the page and try again.");
      })
      .catch(function () {
        box.removeAttribute("aria-busy");
        box.querySelectorAll("button[data-decide]").forEach(function (b) { b.disabled = false; });
        showError(box, "No answer from the server; try again.");
      });
    return true;
  }

  function setupChips() {
    document.addEventListener("click", function (ev) {
      var button = ev.target.closest && ev.target.closest("button[data-decide]");
      if (!button || !window.fetch || !window.FormData) return;
      if (decide(button)) ev.preventDefault();
    });
  }

  // Training runs on the model page: poll each unfinished one; reload when it ends.
  function setupTrainingPolling() {
    document.querySelectorAll("[data-training-run][data-poll]").forEach(function (row) {
      var url = row.getAttribute("data-poll");
      function tick() {
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
          .then(function (run) {
            var bar = row.querySelector("[data-progress]");
            if (bar) { bar.max = run.total || 1; bar.value = run.done; }
            var label = row.querySelector("[data-status-label]");
            if (label) { label.textContent = run.status_label; label.className = "badge badge-" + run.status; }
            var message = row.querySelector("[data-message]");
            if (message) message.textContent = run.message || "";
            row.setAttribute("data-status", run.status);
            if (run.finished) { window.location.reload(); return; }
            setTimeout(tick, 1500);
          })
          .catch(function () { setTimeout(tick, 4000); });
      }
      setTimeout(tick, 1000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupChips();
    setupTrainingPolling();
  });
})();
