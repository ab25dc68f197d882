// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Bulk selection on the link list: show the action bar when something is selected.
  function setupBulk() {
    var form = document.getElementById("bulk-form");
    if (!form) return;
    var bar = form.querySelector("[data-bulkbar]");
    var count = form.querySelector("[data-selected-count]");
    function update() {
      var n = form.querySelectorAll("input[data-select]:checked").length;
      bar.hidden = n === 0;
      count.textContent = n + " selected";
    }
    form.addEventListener("change", update);
    form.addEventListener("submit", function (ev) {
      var action = form.querySelector("select[name=action]").value;
      if (action === "delete" && !window.confirm("Delete the selected links?")) ev.preventDefault();
    });
    update();
  }

  // Import progress: poll the API until the job is finished.
  function setupImportPolling() {
    document.querySelectorAll("[data-import-id][data-poll]").forEach(function (card) {
      var url = card.getAttribute("data-poll");
      function tick() {
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
          .then(function (job) {
            var bar = card.querySelector("[data-progress]");
            bar.max = job.total || 1;
            bar.value = job.done;
            card.setAttribute("data-status", job.status);
            var label = card.querySelector("[data-status-label]");
            label.textContent = { pending: "waiting", running: "importing", succeeded: "done", failed: "failed" }[job.status] || job.status;
            label.className = "badge badge-" + job.status;
            card.querySelector("[data-counts]").textContent =
              job.done + " of " + job.total + " · " + job.created + " new · " + job.existing +
              " already saved · " + job.failed + " skipped";
            card.querySelector("[data-message]").textContent = job.message || "";
            if (job.status === "succeeded" || job.status === "failed") return;
            setTimeout(tick, 1000);
          })
          .catch(function () { setTimeout(tick, 3000); });
      }
      tick();
    });
  }

  // Snapshot status: poll until the capture is done, then show it.
  function setupSnapshotPolling() {
    document.querySelectorAll("[data-snapshot-id][data-poll]").forEach(function (box) {
      var url = box.getAttribute("data-poll");
      var label = box.querySelector("[data-testid=snapshot-status]");
      var names = { pending: "waiting", running: "capturing", succeeded: "captured", failed: "failed" };
      function tick() {
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
          .then(function (snap) {
            if (label) { label.textContent = names[snap.status] || snap.status; label.className = "badge badge-" + snap.status; }
            box.setAttribute("data-status", snap.status);
            if (snap.status === "succeeded" || snap.status === "failed") { window.location.reload(); return; }
            setTimeout(tick, 1500);
          })
          .catch(function () { setTimeout(tick, 4000); });
      }
      setTimeout(tick, 1000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupBulk();
    setupImportPolling();
    setupSnapshotPolling();
  });
})();
