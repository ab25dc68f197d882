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
    document.querySelectorAll("[data-poll]").forEach(function (card) {
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

  document.addEventListener("DOMContentLoaded", function () {
    setupBulk();
    setupImportPolling();
  });
})();
