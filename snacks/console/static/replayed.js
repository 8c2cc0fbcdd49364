// After a replay: follow each replayed order to where its new run ends (PROCESSED or FAILED again).
(function () {
  "use strict";
  const SETTLED = new Set(["PROCESSED", "FAILED", "REJECTED", "CANCELLED"]);
  const deadline = Date.now() + 120000;

  async function follow(badge) {
    try {
      const response = await fetch(badge.dataset.api, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const status = (await response.json()).order.status;
        badge.textContent = status;
        badge.className = "status " + status;
        if (SETTLED.has(status)) return;
      }
    } catch (error) {
      // keep trying until the deadline
    }
    if (Date.now() < deadline) setTimeout(() => follow(badge), 1000);
  }

  for (const badge of document.querySelectorAll("td.now .status[data-api]")) follow(badge);
})();
