// The dashboard: fetches /dashboard/data and draws plain SVG charts, each with a data table as
// its text alternative. No libraries, nothing from the network but this service.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const body = document.body;
  const refreshSeconds = Number(body.dataset.refreshSeconds || 30);
  const fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  const key = fragment.get("key");
  const serviceArea = fragment.get("service_area");
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const CHANNEL_NAMES = {
    phone: "Phone", email: "Email", web_form: "Web form", portal: "Portal", face_to_face: "Face to face",
    letter: "Letter", voicemail: "Voicemail", social_media: "Social media", chat: "Chat", standby: "Standby (out of hours)",
  };

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function currentYear() {
    const now = new Date();
    return now.getMonth() >= 3 ? now.getFullYear() : now.getFullYear() - 1;
  }

  function yearLabel(start) {
    return `${start}-${String((start + 1) % 100).padStart(2, "0")}`;
  }

  function formatValue(value, unit) {
    if (value === null || value === undefined) return "No data";
    if (unit === "percent") return `${value.toFixed(1)}%`;
    if (unit === "seconds") return formatSeconds(value);
    if (unit === "score") return value.toFixed(2);
    return String(value);
  }

  function formatSeconds(seconds) {
    if (seconds === null || seconds === undefined) return "No data";
    const whole = Math.round(seconds);
    const minutes = Math.floor(whole / 60);
    const rest = whole % 60;
    return minutes ? `${minutes}m ${String(rest).padStart(2, "0")}s` : `${rest}s`;
  }

  function monthName(isoDate) {
    const [year, month] = isoDate.split("-").map(Number);
    return `${MONTHS[month - 1]} ${year}`;
  }

  // The period selector: this financial year, its quarters, and the four years before.
  const select = document.getElementById("period");
  function fillPeriods() {
    const chosen = fragment.get("period");
    const start = currentYear();
    const options = [];
    for (let year = start; year > start - 5; year -= 1) {
      options.push([yearLabel(year), `Financial year ${yearLabel(year)}`]);
      for (let q = 1; q <= 4; q += 1) options.push([`${yearLabel(year)}-Q${q}`, `${yearLabel(year)} quarter ${q}`]);
    }
    if (chosen && !options.some(([value]) => value === chosen)) options.unshift([chosen, chosen]);
    for (const [value, label] of options) select.appendChild(el("option", { value }, label));
    select.value = chosen || yearLabel(start);
  }

  function chartTable(caption, headings, rows) {
    const details = el("details");
    details.appendChild(el("summary", {}, `Show the figures as a table`));
    const table = el("table", { class: "figures" });
    table.appendChild(el("caption", {}, caption));
    const head = el("tr");
    headings.forEach((h, i) => head.appendChild(el("th", { scope: "col", class: i ? "number" : "" }, h)));
    table.appendChild(el("thead")).appendChild(head);
    const tbody = table.appendChild(el("tbody"));
    for (const row of rows) {
      const tr = el("tr");
      row.forEach((cell, i) => tr.appendChild(el(i ? "td" : "th", i ? { class: "number" } : { scope: "row" }, cell)));
      tbody.appendChild(tr);
    }
    details.appendChild(table);
    return details;
  }

  // A vertical bar chart: one bar per item, an optional horizontal target line.
  function barChart({ id, title, description, items, max, unitLabel, target, targetLabel, markLongest }) {
    const width = 640, height = 260, left = 56, right = 12, top = 16, bottom = 40;
    const plotWidth = width - left - right, plotHeight = height - top - bottom;
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${id}-t ${id}-d` });
    root.appendChild(svg("title", { id: `${id}-t` }, title));
    root.appendChild(svg("desc", { id: `${id}-d` }, description));
    const scale = (value) => top + plotHeight - (plotHeight * Math.min(value, max)) / max;
    for (let i = 0; i <= 4; i += 1) {
      const value = (max * i) / 4;
      const y = scale(value);
      root.appendChild(svg("line", { class: "grid", x1: left, x2: width - right, y1: y, y2: y }));
      root.appendChild(svg("text", { class: "label", x: left - 6, y: y + 4, "text-anchor": "end" }, unitLabel(value)));
    }
    root.appendChild(svg("line", { class: "axis", x1: left, x2: left, y1: top, y2: top + plotHeight }));
    root.appendChild(svg("line", { class: "axis", x1: left, x2: width - right, y1: top + plotHeight, y2: top + plotHeight }));
    const step = plotWidth / Math.max(items.length, 1);
    items.forEach((item, i) => {
      const x = left + i * step + step * 0.15;
      if (item.value !== null && item.value !== undefined) {
        const y = scale(item.value);
        const bar = svg("rect", {
          class: `bar mark${target !== null && target !== undefined && item.over ? " over" : ""}`,
          x, y, width: step * 0.7, height: Math.max(top + plotHeight - y, 1), "data-value": item.value,
        });
        bar.appendChild(svg("title", {}, `${item.label}: ${item.text}`));
        root.appendChild(bar);
      }
      if (markLongest && item.longest !== null && item.longest !== undefined) {
        root.appendChild(svg("circle", { class: "longest mark", cx: x + step * 0.35, cy: scale(item.longest), r: 4, "data-value": item.longest }));
      }
      root.appendChild(svg("text", { class: "label", x: x + step * 0.35, y: height - bottom + 16, "text-anchor": "middle" }, item.short));
    });
    if (target !== null && target !== undefined) {
      const y = scale(target);
      root.appendChild(svg("line", { class: "target", x1: left, x2: width - right, y1: y, y2: y }));
      root.appendChild(svg("text", { class: "label", x: width - right, y: y - 4, "text-anchor": "end" }, targetLabel));
    }
    return root;
  }

  // A horizontal bar chart of contacts by channel, each labelled with its shift.
  function channelChart(rows) {
    const width = 640, rowHeight = 26, left = 170, right = 150, top = 8;
    const height = top * 2 + rowHeight * rows.length;
    const max = Math.max(1, ...rows.map((r) => r.contacts));
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "channels-t channels-d" });
    root.appendChild(svg("title", { id: "channels-t" }, "Contacts by channel, with the change from the previous period"));
    const biggest = rows.slice().sort((a, b) => b.contacts - a.contacts)[0];
    root.appendChild(svg("desc", { id: "channels-d" }, biggest && biggest.contacts
      ? `${CHANNEL_NAMES[biggest.channel]} has the most contacts: ${biggest.contacts}. The table below lists every channel.`
      : "No contacts in this period."));
    rows.forEach((row, i) => {
      const y = top + i * rowHeight;
      root.appendChild(svg("text", { class: "label", x: left - 8, y: y + 17, "text-anchor": "end" }, CHANNEL_NAMES[row.channel] || row.channel));
      const barWidth = ((width - left - right) * row.contacts) / max;
      const bar = svg("rect", { class: "bar mark", x: left, y: y + 4, width: Math.max(barWidth, row.contacts ? 1 : 0), height: rowHeight - 8, "data-value": row.contacts });
      bar.appendChild(svg("title", {}, `${CHANNEL_NAMES[row.channel]}: ${row.contacts} contacts`));
      root.appendChild(bar);
      root.appendChild(svg("text", { class: "label", x: left + barWidth + 6, y: y + 17 }, `${row.contacts} (${shiftText(row.change_percent)})`));
    });
    return root;
  }

  function shiftText(change) {
    if (change === null || change === undefined) return "no earlier figure";
    if (change === 0) return "no change";
    return change > 0 ? `up ${change.toFixed(1)}%` : `down ${Math.abs(change).toFixed(1)}%`;
  }

  function renderScorecard(rows) {
    const tbody = document.querySelector("#scorecard tbody");
    tbody.replaceChildren();
    for (const row of rows) {
      const tr = el("tr", { "data-kpi": row.kpi });
      tr.appendChild(el("th", { scope: "row" }, row.kpi));
      tr.appendChild(el("td", {}, row.title));
      tr.appendChild(el("td", { class: "number" }, row.target === null ? "None set" : formatValue(row.target, row.unit)));
      tr.appendChild(el("td", { class: "number" }, formatValue(row.actual, row.unit)));
      const status = el("td");
      status.appendChild(el("span", { class: `tag ${row.status}` }, row.status_text));
      tr.appendChild(status);
      tbody.appendChild(tr);
    }
  }

  function renderSla(months) {
    const figure = document.getElementById("sla-chart");
    const items = months.map((m) => ({
      label: monthName(m.start), short: monthName(m.start).slice(0, 3), value: m.compliance_percent,
      text: m.compliance_percent === null ? "no deadlines" : `${m.compliance_percent.toFixed(1)}% (${m.met} met, ${m.breached} breached)`,
    }));
    const withData = items.filter((i) => i.value !== null);
    const description = withData.length
      ? `Share of commitments met each month, from ${Math.min(...withData.map((i) => i.value)).toFixed(1)}% to ${Math.max(...withData.map((i) => i.value)).toFixed(1)}%.`
      : "No deadlines fell in this period.";
    figure.replaceChildren(barChart({
      id: "sla", title: "Commitments met by month (percent)", description, items, max: 100,
      unitLabel: (v) => `${v}%`,
    }));
    figure.appendChild(chartTable("Commitments met by month", ["Month", "Met", "Breached", "Met (%)"],
      months.map((m) => [monthName(m.start), String(m.met), String(m.breached), m.compliance_percent === null ? "No deadlines" : `${m.compliance_percent.toFixed(1)}%`])));
  }

  function renderWaits(months) {
    const figure = document.getElementById("wait-chart");
    const target = months.length ? months[0].mean_target_seconds : null;
    const items = months.map((m) => ({
      label: monthName(m.start), short: monthName(m.start).slice(0, 3), value: m.mean_wait_seconds,
      longest: m.max_wait_seconds, over: target !== null && m.mean_wait_seconds !== null && m.mean_wait_seconds > target,
      text: m.mean_wait_seconds === null ? "no answered calls" : `mean ${formatSeconds(m.mean_wait_seconds)}, longest ${formatSeconds(m.max_wait_seconds)}`,
    }));
    const peak = Math.max(target || 0, ...items.map((i) => i.value || 0), 60);
    const max = Math.ceil(peak / 60) * 60;
    const answered = months.filter((m) => m.mean_wait_seconds !== null);
    const description = answered.length
      ? `Mean wait of answered calls each month${target !== null ? ` against a target of ${formatSeconds(target)}` : ""}; ${answered.filter((m) => target !== null && m.mean_wait_seconds > target).length} of ${answered.length} months over target.`
      : "No answered calls in this period.";
    figure.replaceChildren(barChart({
      id: "wait", title: "Mean call wait by month against target", description, items, max,
      unitLabel: formatSeconds, target, targetLabel: target !== null ? `Target ${formatSeconds(target)}` : "", markLongest: false,
    }));
    const legend = el("ul", { class: "legend" });
    legend.innerHTML = '<li><span class="swatch" style="background:#1d70b8"></span>Mean wait</li>' +
      '<li><span class="swatch" style="background:#942514"></span>Mean wait over target</li>' +
      '<li><span class="swatch" style="border-top:2px dashed #d4351c;height:0"></span>Target</li>';
    figure.appendChild(legend);
    figure.appendChild(chartTable("Call waits by month", ["Month", "Answered", "Mean", "Median", "90th percentile", "Longest", "Answered within target", "Abandoned"],
      months.map((m) => [monthName(m.start), String(m.answered), formatSeconds(m.mean_wait_seconds), formatSeconds(m.median_wait_seconds),
        formatSeconds(m.p90_wait_seconds), formatSeconds(m.max_wait_seconds),
        m.service_level_percent === null ? "No data" : `${m.service_level_percent.toFixed(1)}%`,
        m.abandonment_rate_percent === null ? "No data" : `${m.abandonment_rate_percent.toFixed(1)}%`])));
  }

  function renderChannels(channels) {
    const figure = document.getElementById("channel-chart");
    const rows = channels.rows.filter((r) => r.channel !== "all");
    figure.replaceChildren(channelChart(rows));
    figure.appendChild(el("figcaption", {}, `Compared with ${channels.previous_period.label}.`));
    const money = (v) => `£${v.toFixed(2)}`;
    figure.appendChild(chartTable("Contacts and cost by channel", ["Channel", "Contacts", "Share", "Cost", `Contacts ${channels.previous_period.label}`, "Change"],
      channels.rows.map((r) => [CHANNEL_NAMES[r.channel] || "All channels", String(r.contacts),
        r.share_percent === null ? "–" : `${r.share_percent.toFixed(1)}%`, money(r.cost), String(r.previous_contacts), shiftText(r.change_percent)])));
  }

  function renderBreaches(breaches) {
    const tbody = document.querySelector("#breaches tbody");
    tbody.replaceChildren();
    if (!breaches.length) {
      const tr = el("tr");
      tr.appendChild(el("td", { colspan: "6", class: "empty" }, "No open breaches."));
      tbody.appendChild(tr);
      return;
    }
    for (const b of breaches) {
      const tr = el("tr", { "data-clock-id": b.clock_id });
      tr.appendChild(el("th", { scope: "row" }, b.commitment));
      // The contact by its reference (an id only when sla-monitor is not configured), a link
      // to it when the contact service's URL is set.
      const name = b.reference || `${b.contact_type} ${b.contact_id.slice(0, 8)}`;
      const contact = el("td", { class: "contact" });
      contact.appendChild(b.link ? el("a", { href: b.link }, name) : document.createTextNode(name));
      tr.appendChild(contact);
      tr.appendChild(el("td", { class: "owner" }, b.owner || "Not known"));
      tr.appendChild(el("td", {}, b.service_area || "Not known"));
      tr.appendChild(el("td", {}, new Date(b.due_at).toLocaleString("en-GB", { timeZone: "Europe/London" })));
      const days = b.overdue_seconds / 86400;
      tr.appendChild(el("td", { class: "number" }, days >= 1 ? `${Math.floor(days)} days` : formatSeconds(b.overdue_seconds)));
      tbody.appendChild(tr);
    }
  }

  const status = document.getElementById("status");
  let timer = null;
  async function load() {
    const params = new URLSearchParams({ period: select.value });
    if (serviceArea) params.set("service_area", serviceArea);
    const headers = key ? { Authorization: `Bearer ${key}` } : {};
    try {
      const response = await fetch(`/dashboard/data?${params}`, { headers });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        status.textContent = response.status === 401 || response.status === 403
          ? "This dashboard needs a metrics:read key: open it as /dashboard#key=YOUR-KEY."
          : `The figures could not be loaded: ${problem.detail || response.status}.`;
        return;
      }
      const data = await response.json();
      renderScorecard(data.scorecard);
      renderSla(data.sla_by_month);
      renderWaits(data.calls_by_month);
      renderChannels(data.channels);
      renderBreaches(data.breaches);
      body.dataset.loaded = data.period.label;
      const at = new Date(data.generated_at).toLocaleTimeString("en-GB", { timeZone: "Europe/London" });
      status.textContent = `${data.period.label}${data.service_area ? `, ${data.service_area}` : ""}: updated at ${at}; refreshes every ${refreshSeconds} seconds.`;
    } catch (error) {
      status.textContent = "The figures could not be loaded; trying again shortly.";
    } finally {
      clearTimeout(timer);
      timer = setTimeout(load, refreshSeconds * 1000);
    }
  }

  fillPeriods();
  select.addEventListener("change", load);
  document.getElementById("refresh").addEventListener("click", load);
  load();
})();
