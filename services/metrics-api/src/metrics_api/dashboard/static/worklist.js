// The worklist page refreshes itself: it fetches this same URL (its filters included) and swaps
// in the new results, so focus and the form stay where they are. Unticking the box stops it.
(function () {
  "use strict";
  const seconds = Number(document.body.dataset.refreshSeconds) || 30;
  const box = document.getElementById("auto-refresh");
  const line = document.getElementById("status-line");

  async function refresh() {
    if (!box.checked) return;
    try {
      const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("worklist-results");
      if (fresh) {
        document.getElementById("worklist-results").replaceWith(fresh);
        line.textContent = "Updated at " + new Date().toLocaleTimeString("en-GB");
        document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
      }
    } catch (error) {
      line.textContent = "Could not refresh: " + error.message;
    }
  }

  window.setInterval(refresh, seconds * 1000);
})();
