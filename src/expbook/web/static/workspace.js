// expbook dashboard: the workspace above the runs table. A panel per metric (or several
// overlaid) with the curve of every run of the page, or one curve per group (the mean with
// its min-max band). All curves come in one request (/api/workspace/series or
// /api/workspace/groups), drawn from the store's sketches. A run keeps its colour in every
// panel (a colour per run id); hovering a curve or a table row highlights both.
"use strict";

(function () {
  const ws = document.getElementById("workspace");
  if (!ws) return;
  const runIds = ws.dataset.runs.split(",").filter(Boolean);
  const group = ws.dataset.group;
  const x = ws.dataset.x || "step";
  const logy = document.getElementById("ws-logy");
  const panels = Array.from(ws.querySelectorAll(".panel")).map((el) => ({
    el, chart: el.querySelector(".wschart"), keys: JSON.parse(el.dataset.keys), spec: el.dataset.spec,
  }));
  const POINTS = 150;
  // text a run or a config carries, shown by plotly (which reads some HTML and %{...}
  // templates in names and hover texts): as plain text
  const esc = (t) => String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/%\{/g, "%\u200b{");
  const keys = [...new Set(panels.flatMap((p) => p.keys))];
  // -- one request for every panel, sent before plotly.js is parsed ----------------------------
  let url;
  if (group) {
    const q = new URLSearchParams(window.location.search);
    for (const k of ["wk", "wx", "col", "columns", "offset", "limit", "shown_project"]) q.delete(k);
    q.set("group", group);
    q.set("keys", keys.join(","));
    q.set("x", x);
    q.set("max_points", "200");
    url = "/api/workspace/groups?" + q;
  } else {
    const q = new URLSearchParams({ ids: runIds.join(","), keys: keys.join(","), x, max_points: String(POINTS) });
    url = "/api/workspace/series?" + q;
  }
  const answer = fetch(url).then((r) => r.json().then((d) => { if (!r.ok) throw new Error(d.error || r.status); return d; }));
  const loaded = new Promise((done) => {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", done);
    else done();
  });
  const axes = window.expbookAxes;

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
  // Many runs (a page of 200): the curves of a panel are drawn as one trace per colour class
  // (CLASSES colours, a run's class from its slot), runs apart by gaps, so the browser draws
  // a few dozen paths instead of hundreds; a hovered run is drawn again on top.
  const MERGE_ABOVE = 24;
  const CLASSES = 24;
  const merged = !group && runIds.length > MERGE_ABOVE;
  function colour(id, alpha) {
    let slot = slotOf.has(id) ? slotOf.get(id) : hash(id) % SLOTS;
    if (merged) slot = (slot % CLASSES) * 2;
    // hues 7.5 degrees apart, stepping by 17 slots so neighbours differ; three shades
    const hue = ((slot % 48) * 17 % 48) * 7.5;
    const [r, g, b] = rgb(hue, 0.7, 0.34 + Math.floor(slot / 48) * 0.1);
    return alpha === undefined ? `rgb(${r},${g},${b})` : `rgba(${r},${g},${b},${alpha})`;
  }
  const PALETTE = [[31, 119, 180], [214, 39, 40], [44, 160, 44], [255, 127, 14], [148, 103, 189],
    [140, 86, 75], [227, 119, 194], [23, 190, 207], [127, 127, 127], [188, 189, 34]];
  function groupColour(i, alpha) {
    const [r, g, b] = PALETTE[i % PALETTE.length];
    return alpha === undefined ? `rgb(${r},${g},${b})` : `rgba(${r},${g},${b},${alpha})`;
  }
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
      go(all.length ? all : []);
    });
  });
  document.getElementById("wx").addEventListener("change", (ev) => ev.target.form.submit());

  // -- drawing ---------------------------------------------------------------------------------
  const xTitle = x === "step" ? "step" : x === "wall" ? "seconds since the run's first point" : x;
  const dash = ["solid", "dot", "dash", "longdash", "dashdot"];
  let hot = null; // the highlighted run id or group label

  function layout(p, traces) {
    const xaxis = { title: { text: xTitle, font: { size: 11 } }, automargin: true };
    if (x === "step" || x === "wall") Object.assign(xaxis, { exponentformat: "none", separatethousands: true });
    else axes.axis(xaxis, traces.flatMap((t) => t.x), false);
    const yaxis = axes.axis({ type: "linear", automargin: true }, traces.flatMap((t) => t.y), logy.checked);
    return {
      margin: { l: 50, r: 8, t: 6, b: 36 }, height: 240, xaxis, yaxis, showlegend: !!group || p.keys.length > 1,
      legend: { orientation: "h", font: { size: 10 }, y: -0.25 }, hovermode: "closest", uirevision: p.spec,
    };
  }

  // one trace per (colour class, key); ``owners`` says which run each point belongs to
  function mergedTraces(p, curves) {
    const byClass = new Map();
    p.hotCurves = new Map();
    for (const c of curves) {
      if (!p.keys.includes(c.key)) continue;
      const k = p.keys.indexOf(c.key);
      const col = colour(c.run);
      const id = col + "|" + k;
      let t = byClass.get(id);
      if (!t) {
        t = {
          x: [], y: [], owners: [], type: "scatter", mode: "lines", meta: null, showlegend: false,
          line: { color: col, width: 1, dash: dash[k % dash.length] }, connectgaps: false,
          hovertemplate: `%{text}<br>${esc(c.key)}: %{y}<br>${esc(x)}: %{x}<extra></extra>`, text: [],
        };
        byClass.set(id, t);
      }
      if (t.x.length) { t.x.push(null); t.y.push(null); t.owners.push(null); t.text.push(""); }
      const name = esc(names[c.run] || c.run);
      for (let i = 0; i < c.x.length; i++) { t.x.push(c.x[i]); t.y.push(c.y[i]); t.owners.push(c.run); t.text.push(name); }
      const mine = p.hotCurves.get(c.run) || [];
      mine.push(c);
      p.hotCurves.set(c.run, mine);
    }
    const traces = [...byClass.values()];
    // the hovered run, drawn on top (empty until then)
    traces.push({ x: [], y: [], type: "scatter", mode: "lines", meta: "hot", showlegend: false, hoverinfo: "skip",
      line: { color: "#111", width: 3 } });
    return traces;
  }

  // an overlay panel's legend: which line style is which key (drawn nowhere)
  function keyLegend(p) {
    if (p.keys.length < 2) return [];
    return p.keys.map((key, k) => ({
      x: [null], y: [null], type: "scatter", mode: "lines", meta: "key:" + key, name: esc(key),
      showlegend: true, hoverinfo: "skip", line: { color: "#5c6370", width: 1.5, dash: dash[k % dash.length] },
    }));
  }

  function runTraces(p, curves) {
    if (merged) return keyLegend(p).concat(mergedTraces(p, curves));
    const traces = keyLegend(p);
    for (const c of curves) {
      if (!p.keys.includes(c.key)) continue;
      const k = p.keys.indexOf(c.key);
      const name = names[c.run] || c.run;
      traces.push({
        x: c.x, y: c.y, type: "scatter", mode: "lines", meta: c.run,
        name: esc(p.keys.length > 1 ? `${name} · ${c.key}` : name), showlegend: false,
        line: { color: colour(c.run), width: 1.2, dash: dash[k % dash.length] },
        hovertemplate: `${esc(name)}<br>${esc(c.key)}: %{y}<br>${esc(x)}: %{x}<extra></extra>`,
      });
    }
    return traces;
  }

  function groupTraces(p, data) {
    const traces = [];
    for (const c of data.curves) {
      if (!p.keys.includes(c.key)) continue;
      const g = data.groups[c.group];
      const k = p.keys.indexOf(c.key);
      const label = esc(p.keys.length > 1 ? `${g.label} · ${c.key}` : g.label);
      const base = { x: c.x, type: "scatter", mode: "lines", meta: "g:" + g.label, hoverinfo: "skip", showlegend: false };
      traces.push(Object.assign({}, base, { y: c.max, line: { width: 0, color: groupColour(c.group) }, name: label + " max" }));
      traces.push(Object.assign({}, base, {
        y: c.min, line: { width: 0, color: groupColour(c.group) }, fill: "tonexty", fillcolor: groupColour(c.group, 0.2), name: label + " min",
      }));
      traces.push({
        x: c.x, y: c.mean, type: "scatter", mode: "lines", meta: "g:" + g.label, name: `${label} (n=${c.n})`,
        line: { color: groupColour(c.group), width: 2, dash: dash[k % dash.length] }, showlegend: true,
        hovertemplate: `${esc(g.label)} (n=${c.n})<br>${esc(c.key)} mean: %{y}<extra></extra>`,
      });
    }
    return traces;
  }

  let data = null;
  function draw() {
    const drawn = panels.map((p) => {
      const traces = group ? groupTraces(p, data) : runTraces(p, data.curves);
      p.traces = traces;
      if (!traces.length) {
        p.chart.textContent = "no points of " + p.keys.join(", ") + (x === "step" || x === "wall" ? "" : " against " + x);
        p.chart.classList.add("nodata");
        return Promise.resolve();
      }
      return Plotly.react(p.chart, traces, layout(p, traces), { displaylogo: false, responsive: true }).then(() => {
        if (p.hooked) return;
        p.hooked = true;
        p.chart.on("plotly_hover", (ev) => {
          const pt = ev.points[0];
          highlight(pt.data.owners ? pt.data.owners[pt.pointNumber] : pt.data.meta);
        });
        p.chart.on("plotly_unhover", () => highlight(null));
      });
    });
    return Promise.all(drawn);
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
    for (const p of panels) {
      if (!p.traces || !p.traces.length) continue;
      if (merged) {
        // the others fade; the run is drawn again, thick, in its colour, on top
        const last = p.traces.length - 1;
        const mine = (id && p.hotCurves.get(id)) || [];
        const hx = [], hy = [];
        for (const c of mine) { if (hx.length) { hx.push(null); hy.push(null); } hx.push(...c.x); hy.push(...c.y); }
        p.traces[last].x = hx;
        p.traces[last].y = hy;
        p.traces[last].meta = id ? "hot:" + id : "hot";
        p.traces[last].line = { color: id ? colour(id) : "#111", width: 3 };
        p.traces.forEach((t, i) => { if (i !== last) t.opacity = id === null ? 1 : 0.25; });
        Plotly.react(p.chart, p.traces, p.chart.layout);
        continue;
      }
      const opacity = p.traces.map((t) => (id === null || t.meta === id ? 1 : 0.15));
      const width = p.traces.map((t) => (t.line.width === 0 ? 0 : t.meta === id ? (group ? 3.5 : 3) : group ? 2 : 1.2));
      Plotly.restyle(p.chart, { opacity, "line.width": width });
    }
    ws.dataset.hot = id || "";
  }
  document.querySelectorAll("#runs tr[data-id], #runs tr.grouprow").forEach((tr) => {
    const id = tr.dataset.id || "g:" + tr.dataset.group;
    tr.addEventListener("mouseenter", () => highlight(group && tr.dataset.id ? null : id));
    tr.addEventListener("mouseleave", () => highlight(null));
  });
  logy.addEventListener("change", () => { hot = null; draw(); });

  const status = document.getElementById("ws-status");
  Promise.all([answer, loaded])
    .then(([d]) => {
      data = d;
      if (group) status.textContent = `${d.groups.length} group${d.groups.length === 1 ? "" : "s"} of ${d.runs} runs: mean, min–max band` + (d.truncated ? " (the first 5,000 runs)" : "") + (d.more_groups ? " (the first 100 groups drawn)" : "");
      return draw();
    })
    .then(() => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0))))
    .then(() => {
      // painted: the time since navigation started (bench/bench_ui.py reads it)
      ws.dataset.paintedMs = String(Math.round(performance.now()));
      ws.dataset.drawn = String(panels.length);
    })
    .catch((e) => { status.textContent = String(e.message || e); ws.dataset.drawn = "error"; });
})();
