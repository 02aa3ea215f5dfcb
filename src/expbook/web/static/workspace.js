// expbook dashboard: the workspace above the runs table. A panel per metric (or several
// overlaid) with the curve of every run of the page, or one curve per group (the mean with
// its min-max or ±std band). All curves come in one request (the URL the server put in
// data-src, preloaded by the page's head), drawn from the store's sketches, on canvases
// (static/chart.js: no plotly.js on this page). A run keeps its colour in every panel (a colour
// per run id); hovering a curve or a table row highlights both. While a run of the table is
// running, the curves are fetched again every 5 s (as app.js refreshes the table).
"use strict";

(function () {
  const ws = document.getElementById("workspace");
  if (!ws) return;
  const runIds = ws.dataset.runs.split(",").filter(Boolean);
  const group = ws.dataset.group;
  const x = ws.dataset.x || "step";
  const logy = document.getElementById("ws-logy");
  const bandPick = document.getElementById("ws-band");
  const panels = Array.from(ws.querySelectorAll(".panel")).map((el) => ({
    el, chart: el.querySelector(".wschart"), keys: JSON.parse(el.dataset.keys), spec: el.dataset.spec,
  }));
  const fetchCurves = () => fetch(ws.dataset.src).then((r) => r.json().then((d) => {
    if (!r.ok) throw new Error(d.error || r.status);
    return d;
  }));
  const answer = fetchCurves(); // the head preloads this very URL: no second request
  const loaded = new Promise((done) => {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", done);
    else done();
  });

  // a stable colour per run id: a slot among 144 (48 hues x 3 shades) from a hash of the id,
  // the same in every panel; runs of the page whose slots collide take the next free one (in
  // the order of their ids, so the choice does not depend on the table's order). Groups take
  // well-separated colours by their order.
  function rgb(hue, sat, light) {
    const a = sat * Math.min(light, 1 - light);
    const f = (n) => { const k = (n + hue / 30) % 12; return Math.round(255 * (light - a * Math.max(-1, Math.min(k - 3, 9 - k, 1)))); };
    return [f(0), f(8), f(4)];
  }
  function hash(id) {
    let h = 2166136261;
    for (let i = 0; i < id.length; i++) { h ^= id.charCodeAt(i); h = Math.imul(h, 16777619); }
    h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16;
    return h >>> 0;
  }
  const SLOTS = 144;
  const slotOf = new Map();
  const taken = new Set();
  for (const id of [...runIds].sort()) {
    let slot = hash(id) % SLOTS;
    for (let k = 0; k < SLOTS && taken.has(slot); k++) slot = (slot + 7) % SLOTS;
    taken.add(slot);
    slotOf.set(id, slot);
  }
  function colour(id) {
    const slot = slotOf.has(id) ? slotOf.get(id) : hash(id) % SLOTS;
    // hues 7.5 degrees apart, stepping by 17 slots so neighbours differ; three shades
    const hue = ((slot % 48) * 17 % 48) * 7.5;
    const [r, g, b] = rgb(hue, 0.7, 0.34 + Math.floor(slot / 48) * 0.1);
    return `rgb(${r},${g},${b})`;
  }
  const PALETTE = ["rgb(31,119,180)", "rgb(214,39,40)", "rgb(44,160,44)", "rgb(255,127,14)", "rgb(148,103,189)",
    "rgb(140,86,75)", "rgb(227,119,194)", "rgb(23,190,207)", "rgb(127,127,127)", "rgb(188,189,34)"];
  const groupColour = (i) => PALETTE[i % PALETTE.length];
  const names = {};
  document.querySelectorAll("#runs tr[data-id]").forEach((tr) => {
    const link = tr.querySelector(".runlink");
    names[tr.dataset.id] = link ? link.textContent : tr.dataset.id;
    const sw = tr.querySelector(".swatch");
    if (sw && !group) sw.style.background = colour(tr.dataset.id);
  });

  // -- the URL keeps the panels: change it and reload (the server draws the sections) ---------
  function go(specs) {
    const q = new URLSearchParams(window.location.search);
    q.delete("wk");
    for (const s of specs) q.append("wk", s);
    window.location.search = q.toString();
  }
  const specs = () => panels.map((p) => p.spec);
  panels.forEach((p, i) => {
    p.el.querySelector(".overlay").addEventListener("change", (ev) => {
      if (!ev.target.value) return;
      const all = specs();
      all[i] = p.spec + "|" + ev.target.value;
      go(all);
    });
    p.el.querySelector(".unpanel").addEventListener("click", () => {
      const all = specs();
      all.splice(i, 1);
      go(all);
    });
  });
  document.getElementById("wx").addEventListener("change", (ev) => ev.target.form.submit());

  // -- drawing ---------------------------------------------------------------------------------
  const xTitle = x === "step" ? "step" : x === "wall" ? "seconds since the run's first point" : x;
  const DASH = ["solid", "dot", "dash", "longdash", "dashdot"];
  let hot = null; // the highlighted run id or group label ("g:...")
  const fmt = (v) => (typeof v === "number" ? String(Number(v.toPrecision(6))) : String(v));

  // an overlay panel's legend: which line style is which key (no data)
  function keyLegend(p) {
    if (p.keys.length < 2) return [];
    return p.keys.map((key, k) => ({
      x: [], y: [], meta: "key:" + key, name: key, legend: true, hover: false,
      line: { color: "#5c6370", width: 1.5, dash: DASH[k % DASH.length] },
    }));
  }

  function runTraces(p, curves) {
    const traces = keyLegend(p);
    const width = runIds.length > 24 ? 1 : 1.2;
    for (const c of curves) {
      const k = p.keys.indexOf(c.key);
      if (k < 0) continue;
      const name = names[c.run] || c.run;
      traces.push({
        x: c.x, y: c.y, meta: c.run, key: c.key, name: p.keys.length > 1 ? `${name} · ${c.key}` : name,
        line: { color: colour(c.run), width, dash: DASH[k % DASH.length] },
      });
    }
    return traces;
  }

  function groupTraces(p, d) {
    const traces = keyLegend(p);
    const std = bandPick && bandPick.value === "std";
    for (const c of d.curves) {
      const k = p.keys.indexOf(c.key);
      if (k < 0) continue;
      const g = d.groups[c.group];
      const label = p.keys.length > 1 ? `${g.label} · ${c.key}` : g.label;
      const col = groupColour(c.group);
      const lo = std ? c.mean.map((m, i) => (m === null || c.std[i] === null ? null : m - c.std[i])) : c.min;
      const hi = std ? c.mean.map((m, i) => (m === null || c.std[i] === null ? null : m + c.std[i])) : c.max;
      traces.push({ fill: "band", x: c.x, lo, hi, meta: "g:" + g.label, name: label + (std ? " ±std" : " min–max"), color: col });
      traces.push({
        x: c.x, y: c.mean, meta: "g:" + g.label, key: c.key, name: `${label} (n=${c.n})`, legend: true, group: g, count: c.count,
        line: { color: col, width: 2, dash: DASH[k % DASH.length] },
      });
    }
    return traces;
  }

  function hoverText(t, i) {
    const xs = x === "step" ? Number(t.x[i]).toLocaleString("en-US") : fmt(t.x[i]);
    if (t.group) {
      return [`${t.group.label} (n=${t.count[i]} here)`, `${t.key} mean: ${fmt(t.y[i])}`, `${x}: ${xs}`];
    }
    return [names[t.meta] || t.meta, `${t.key}: ${fmt(t.y[i])}`, `${x}: ${xs}`];
  }

  let data = null;
  function draw() {
    for (const p of panels) {
      const traces = group ? groupTraces(p, data) : runTraces(p, data.curves);
      if (!traces.some((t) => t.x.length)) {
        if (p.view) p.view = null;
        p.chart.textContent = "no points of " + p.keys.join(", ") + (x === "step" || x === "wall" ? "" : " against " + x);
        p.chart.classList.add("nodata");
        continue;
      }
      if (!p.view) {
        p.chart.classList.remove("nodata");
        p.view = window.expbookChart(p.chart, {
          height: 240, xTitle, xPlain: x === "step" || x === "wall", logY: logy.checked, hoverText, onHover: highlight,
        });
      }
      p.view.opts.logY = logy.checked;
      p.view.hot = hot;
      p.view.draw(traces);
    }
  }

  // -- hover: the run (or group) stands out in every panel and in the table -------------------
  function highlight(id) {
    if (id === hot) return;
    hot = id;
    document.querySelectorAll("#runs tr.hot").forEach((tr) => tr.classList.remove("hot"));
    if (id) {
      const sel = id.startsWith("g:")
        ? `#runs tr.grouprow[data-group="${CSS.escape(id.slice(2))}"]`
        : `#runs tr[data-id="${CSS.escape(id)}"]`;
      document.querySelectorAll(sel).forEach((tr) => tr.classList.add("hot"));
    }
    for (const p of panels) if (p.view) p.view.highlight(id);
    ws.dataset.hot = id || "";
  }
  document.querySelectorAll("#runs tr[data-id], #runs tr.grouprow").forEach((tr) => {
    const id = tr.dataset.id || "g:" + tr.dataset.group;
    tr.addEventListener("mouseenter", () => highlight(group && tr.dataset.id ? null : id));
    tr.addEventListener("mouseleave", () => highlight(null));
  });
  logy.addEventListener("change", () => { if (data) draw(); });
  if (bandPick) bandPick.addEventListener("change", () => { if (data) { draw(); describe(); } });

  const status = document.getElementById("ws-status");
  function describe() {
    if (!group) return;
    const d = data;
    status.textContent = `${d.groups.length} group${d.groups.length === 1 ? "" : "s"} of ${d.runs} runs: mean, ` +
      (bandPick && bandPick.value === "std" ? "±std band" : "min–max band") +
      (d.truncated ? " (the first 5,000 runs)" : "") + (d.more_groups ? " (the first 100 groups drawn)" : "");
  }

  // -- live: while a run of the table is running, the curves again every 5 s ------------------
  const running = () => !!document.querySelector("#runs .status.running");
  let wasRunning = running();
  function poll() {
    const now = running();
    if (!now && !wasRunning) return; // every run ended: the last refresh was done
    wasRunning = now;
    fetchCurves()
      .then((d) => {
        data = d;
        draw();
        ws.dataset.refreshed = String((Number(ws.dataset.refreshed) || 0) + 1);
      })
      .catch(() => null)
      .then(() => setTimeout(poll, 5000));
  }

  // performance marks (a profile or bench/bench_ui.py reads them): curves parsed, panels drawn
  const mark = (name) => { if (performance.mark) performance.mark("expbook:" + name); };
  answer.then(() => mark("curves"), () => null);
  Promise.all([answer, loaded])
    .then(([d]) => {
      data = d;
      describe();
      draw();
      mark("drawn");
    })
    .then(() => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0))))
    .then(() => {
      // painted: the time since navigation started (bench/bench_ui.py reads it)
      ws.dataset.paintedMs = String(Math.round(performance.now()));
      ws.dataset.drawn = String(panels.length);
      if (wasRunning) setTimeout(poll, 5000);
    })
    .catch((e) => { status.textContent = String(e.message || e); ws.dataset.drawn = "error"; });
})();
