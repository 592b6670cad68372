// The worklist page refreshes itself: it fetches this same URL (its filters included) and swaps
// in the new results, so focus and the form stay where they are. Unticking the box stops it.
// When the dashboard is closed, the rows need a metrics:read key: the page takes it from its
// URL fragment (#key=cc_...), which no server or proxy log sees, and sends it as Authorization;
// the fragment is carried over when the form or a page link is followed.
(function () {
  "use strict";
  const seconds = Number(document.body.dataset.refreshSeconds) || 30;
  const keyRequired = document.body.dataset.keyRequired === "true";
  const key = new URLSearchParams(window.location.hash.slice(1)).get("key");
  const box = document.getElementById("auto-refresh");
  const line = document.getElementById("status-line");
  const form = document.getElementById("filters");

  function headers() {
    const sent = { Accept: "text/html" };
    if (key) sent.Authorization = "Bearer " + key;
    return sent;
  }

  async function refresh(always) {
    if (!always && !box.checked) return;
    try {
      const response = await fetch(window.location.href, { headers: headers() });
      if (response.status === 401 || response.status === 403) {
        line.textContent = "The key in the address was refused (" + response.status + ").";
        return;
      }
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

  if (key) {
    // Keep the key's fragment when the filters change or a page link is followed.
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const query = new URLSearchParams(new FormData(form)).toString();
      window.location.assign(form.action + "?" + query + window.location.hash);
    });
    document.addEventListener("click", function (event) {
      const link = event.target.closest(".pages a");
      if (!link) return;
      event.preventDefault();
      window.location.assign(link.href + window.location.hash);
    });
  }
  if (keyRequired && key) refresh(true);
  window.setInterval(refresh, seconds * 1000);
})();
