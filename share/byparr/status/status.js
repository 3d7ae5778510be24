// Byparr status page: polls status.json and draws it. No framework, no network
// beyond this server: the chart is inline SVG drawn here.
//
// Every value from the server is put in the page with textContent, never as
// HTML: a domain name is whatever a client asked for.
"use strict";

(function () {
  const POLL_MS = 5000;
  const SVG_NS = "http://www.w3.org/2000/svg";
  let timer = null;

  function $(id) { return document.getElementById(id); }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }

  function ms(v) {
    if (v === null || v === undefined) return "–";
    if (v > 0 && v < 1) return "<1 ms";
    return v >= 10000 ? (v / 1000).toFixed(1) + " s" : v >= 1000 ? (v / 1000).toFixed(2) + " s"
         : Math.round(v) + " ms";
  }

  function bytes(v) {
    if (!v) return "–";
    const units = ["B", "KiB", "MiB", "GiB"];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; ++i; }
    return v.toFixed(i ? 1 : 0) + " " + units[i];
  }

  function clock(t) {
    return new Date(t).toLocaleTimeString([], { hour12: false });
  }

  function outcomeClass(o) {
    if (o === "solved" || o === "not_detected" || o === "cached" || o === "ok") return "outcome-ok";
    if (o === "busy" || o === "invalid") return "outcome-warn";
    return "outcome-bad";
  }

  function fillTable(id, rows, columns, emptyText) {
    const body = $(id).tBodies[0];
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = el("tr");
      const td = el("td", emptyText, "empty");
      td.colSpan = columns;
      tr.append(td);
      body.append(tr);
      return;
    }
    for (const cells of rows) {
      const tr = el("tr");
      for (const c of cells) tr.append(c instanceof Node ? c : el("td", c));
      body.append(tr);
    }
  }

  function td(text, cls) { return el("td", text, cls); }

  function drawSummary(s) {
    const sum = s.summary;
    $("solve-rate").textContent =
      sum.solveRate === null ? "–" : (sum.solveRate * 100).toFixed(1) + " %";
    $("requests-hour").textContent = sum.requestsHour;
    $("latency-avg").textContent = ms(sum.averageMs);
    $("memory").textContent = bytes(sum.memoryBytes);
    $("queue").textContent = sum.queueDepth + " / " + sum.queueLimit;
    $("in-flight").textContent = sum.inFlight + " / " + sum.concurrencyLimit;
  }

  // One point per minute that had requests: the average, and the slowest as a
  // dashed line. The y axis starts at 0 and ends at a round number.
  function drawChart(minutes) {
    const W = 1000, H = 220, L = 56, R = 10, T = 10, B = 24;
    const box = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
                             "aria-label": "Latency per minute over the last hour" });
    const busy = minutes.filter(m => m.requests > 0);
    let top = Math.max(1, ...busy.map(m => m.maxMs));
    const step = Math.pow(10, Math.floor(Math.log10(top)));
    top = Math.ceil(top / step) * step;
    const x = i => L + (W - L - R) * i / Math.max(1, minutes.length - 1);
    const y = v => T + (H - T - B) * (1 - v / top);
    for (const f of [0, 0.5, 1]) {
      box.append(svg("line", { x1: L, x2: W - R, y1: y(top * f), y2: y(top * f), class: "axis" }));
      const label = svg("text", { x: L - 6, y: y(top * f) + 4, "text-anchor": "end" });
      label.textContent = ms(top * f);
      box.append(label);
    }
    for (const [i, text] of [[0, "-60 min"], [30, "-30 min"], [minutes.length - 1, "now"]]) {
      const label = svg("text", { x: x(i), y: H - 6, "text-anchor": i === 0 ? "start" : i === 30 ? "middle" : "end" });
      label.textContent = text;
      box.append(label);
    }
    const avg = [], max = [];
    minutes.forEach((m, i) => {
      if (m.requests === 0) return;
      avg.push(`${x(i).toFixed(1)},${y(m.averageMs).toFixed(1)}`);
      max.push(`${x(i).toFixed(1)},${y(m.maxMs).toFixed(1)}`);
    });
    if (max.length) box.append(svg("polyline", { points: max.join(" "), class: "max" }));
    if (avg.length) box.append(svg("polyline", { points: avg.join(" "), class: "avg" }));
    minutes.forEach((m, i) => {
      if (m.requests === 0) return;
      // The slowest as a small mark too: a lone minute has no line to show it.
      box.append(svg("circle", { cx: x(i), cy: y(m.maxMs), r: 2.5, class: "max-point" }));
      const c = svg("circle", { cx: x(i), cy: y(m.averageMs), r: 3.5, class: "point" });
      const tip = svg("title");
      tip.textContent = `${clock(m.start)}: ${m.requests} requests, average ${ms(m.averageMs)}, ` +
                        `slowest ${ms(m.maxMs)}, ${m.failed} failed`;
      c.append(tip);
      box.append(c);
    });
    $("chart").replaceChildren(box);
  }

  function drawPlugins(plugins) {
    fillTable("plugins", plugins.map(p => {
      const state = p.state + (p.breakerOpen ? " (breaker open)" : "") +
                    (p.ready === false ? " (not ready)" : "");
      const cls = p.state === "enabled" && p.ready !== false ? "outcome-ok"
                : p.state === "disabled" ? "outcome-warn" : "outcome-bad";
      return [td(p.id), td(p.plugin), td(p.kind), td(state, cls), td(p.reason || "")];
    }), 5, "No plugins loaded.");
  }

  function drawRequests(requests) {
    fillTable("requests", requests.map(r => [
      td(clock(r.time)), td(r.domain || "–"), td(r.outcome, outcomeClass(r.outcome)),
      td(r.rule || ""), td(r.solver || ""), td(ms(r.durationMs), "num"), td(r.cache || ""),
    ]), 7, "No requests yet.");
  }

  function drawSites(sites) {
    fillTable("sites", sites.map(s => [
      td(s.domain),
      td(Object.entries(s.outcomes).map(([o, n]) => `${o} ${n}`).join(", ")),
      td(s.lastPassedBy || "–"), td(clock(s.lastMs)),
    ]), 4, "No sites yet.");
  }

  async function refresh() {
    const updated = $("updated");
    try {
      const r = await fetch("status.json", { credentials: "same-origin", cache: "no-store" });
      if (!r.ok) throw new Error("status.json answered " + r.status);
      const s = await r.json();
      drawSummary(s);
      drawChart(s.latency);
      drawPlugins(s.plugins);
      drawRequests(s.requests);
      drawSites(s.sites);
      updated.textContent = "Byparr " + s.version + ", updated " + clock(s.now);
      updated.classList.remove("error");
    } catch (e) {
      // Shown on the page, not thrown: the server may be restarting.
      updated.textContent = "Cannot reach Byparr: " + e.message;
      updated.classList.add("error");
    }
  }

  // Poll only while the page is visible, so a forgotten tab costs the server nothing.
  function schedule() {
    clearInterval(timer);
    timer = null;
    if (document.visibilityState === "visible") timer = setInterval(refresh, POLL_MS);
  }

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") refresh();
    schedule();
  });
  refresh();
  schedule();
})();
