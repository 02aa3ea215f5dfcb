// expbook dashboard: run selection on the runs page, charts on the run and compare pages,
// plots on report pages.
// No framework, nothing loaded from the network but this server.
"use strict";

(function () {
  // -- readable axes, for every chart of the dashboard ------------------------------------------
  // Ticks in plain decimals or scientific notation (3e-4), never SI prefixes ("300µ", "2k").
  // A log axis whose data hold two decades or more is labelled at its decades only (1e-3,
  // 0.01, 0.1, 1) with unlabelled minor ticks between; a narrower one at 1, 2 and 5 times a
  // power of ten (0.05, 0.1, 0.2), or, narrower still, at plain values: never lone mantissa
  // digits ("9 8 7 ... 2"). ``axis`` (a plotly layout axis) is changed in place; ``values``
  // are the data drawn on it. report/html.py does the same for report plots.
  const MINOR = { dtick: "D1", ticks: "outside", ticklen: 3, showgrid: true, gridcolor: "#f1f3f6" };
  function readableAxis(axis, values, log) {
    if (axis.exponentformat === undefined) axis.exponentformat = "e";
    if (!log) return axis;
    axis.type = "log";
    let lo = Infinity, hi = -Infinity;
    for (const v of values) {
      if (typeof v === "number" && v > 0 && isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
    }
    if (!(hi >= lo)) return axis;
    const a = Math.log10(lo) - 1e-9, b = Math.log10(hi) + 1e-9;
    let decades = 0, marks = 0;
    for (let k = Math.floor(a); k <= Math.ceil(b); k++) {
      for (const m of [1, 2, 5]) {
        const x = k + Math.log10(m);
        if (x >= a && x <= b) { marks++; if (m === 1) decades++; }
      }
    }
    if (decades >= 2) {
      Object.assign(axis, { tickmode: "linear", tick0: 0, dtick: 1, ticks: "outside", ticklen: 6 });
      axis.minor = Object.assign({}, MINOR);
    } else if (marks >= 2) {
      Object.assign(axis, { tickmode: "linear", tick0: 0, dtick: "D2", tickformat: "~g", ticks: "outside" });
      axis.minor = Object.assign({}, MINOR);
    } else {
      axis.tickformat = "~g"; // plotly's ticks, each at its value
    }
    return axis;
  }
  // the axes of a figure (layout.xaxis, layout.yaxis) from its traces' data
  function readableFigure(data, layout) {
    for (const name of ["xaxis", "yaxis"]) {
      const axis = layout[name] || (layout[name] = {});
      const values = [];
      for (const t of data) {
        const vs = t[name[0]];
        if (Array.isArray(vs)) for (const v of vs) values.push(v);
      }
      readableAxis(axis, values, axis.type === "log");
    }
    return layout;
  }
  window.expbookAxes = { axis: readableAxis, figure: readableFigure };

  // -- runs page: pick runs, open the compare page -------------------------------------------
  const compareBtn = document.getElementById("compare");
  if (compareBtn) {
    // the selection lives in sessionStorage, so it survives paging, sorting and filtering
    const KEY = "expbook-picked";
    const load = () => { try { return JSON.parse(sessionStorage.getItem(KEY) || "[]"); } catch (e) { return []; } };
    const picked = new Set(load());
    const save = () => sessionStorage.setItem(KEY, JSON.stringify([...picked]));
    const picks = () => Array.from(document.querySelectorAll("input.pick"));
    picks().forEach((p) => (p.checked = picked.has(p.value)));
    const update = () => {
      const n = picked.size;
      compareBtn.disabled = n < 2;
      compareBtn.textContent = n ? `Compare ${n} selected` : "Compare selected";
      compareBtn.title = [...picked].join(", ");
    };
    document.addEventListener("change", (ev) => {
      if (ev.target.id === "pick-all") picks().forEach((p) => (p.checked = ev.target.checked));
      if (ev.target.id === "pick-all" || ev.target.classList.contains("pick")) {
        picks().forEach((p) => (p.checked ? picked.add(p.value) : picked.delete(p.value)));
        save();
      }
      update();
    });
    compareBtn.addEventListener("click", () => {
      window.location.href = "/compare?ids=" + [...picked].map(encodeURIComponent).join(",");
    });
    update();
    // running runs: refresh their status and values in place every 5 s (same query, as JSON)
    const fmt = (v) => {
      if (v === null || v === undefined) return "";
      if (typeof v === "number" && !Number.isInteger(v)) return String(Number(v.toPrecision(5)));
      if (Array.isArray(v)) return v.map(fmt).join(", ");
      return typeof v === "object" ? JSON.stringify(v) : String(v);
    };
    const refresh = async () => {
      if (!document.querySelector("#runs .status.running")) return;
      const r = await fetch("/api/runs" + window.location.search).catch(() => null);
      if (!r || !r.ok) return;
      const page = await r.json();
      for (const run of page.runs) {
        const tr = document.querySelector(`#runs tr[data-id="${run.id}"]`);
        if (!tr) continue;
        const badge = tr.querySelector(".status");
        badge.textContent = run.status;
        badge.className = "status " + run.status;
        const cells = tr.querySelectorAll("td.val");
        page.columns.forEach((c, i) => {
          const cell = cells[i];
          if (!cell) return;
          const text = fmt(run.values[c]);
          (cell.querySelector(".clip") || cell).textContent = text;
          cell.title = text;
        });
      }
      setTimeout(refresh, 5000);
    };
    setTimeout(refresh, 5000);
    // project and grouping apply as soon as they are picked
    document.querySelectorAll("#runs-form select").forEach((sel) =>
      sel.addEventListener("change", () => sel.form.submit()));
  }

  // -- report page: the plot regions, drawn from the figures kept with the report ------------
  const figures = document.getElementById("report-figures");
  if (figures && typeof Plotly !== "undefined") {
    const data = JSON.parse(figures.textContent);
    const drawn = [];
    for (const el of document.querySelectorAll(".expbook-plot")) {
      const f = data[el.dataset.fig];
      if (f) drawn.push(Plotly.newPlot(el, f.data, readableFigure(f.data, f.layout || {}),
        { responsive: true, displaylogo: false }));
    }
    Promise.all(drawn).then(() => { document.body.dataset.plots = String(drawn.length); });
  }

  // -- charts ----------------------------------------------------------------------------------
  const host = document.getElementById("charts");
  if (!host || typeof Plotly === "undefined") return;

  const runIds = host.dataset.runs.split(",").filter(Boolean);
  let keys = JSON.parse(host.dataset.keys || "[]");
  let live = host.dataset.live === "true";
  const MAX_POINTS = 1500;
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
  const ctl = {
    xaxis: document.getElementById("xaxis"),
    logy: document.getElementById("logy"),
    smooth: document.getElementById("smooth"),
    smoothVal: document.getElementById("smooth-val"),
  };
  const charts = new Map(); // key -> {div, series: [{run, name, steps, walls, values, wall0}], range}

  function seriesUrl(run, key, params) {
    const q = new URLSearchParams({ max_points: String(MAX_POINTS) });
    for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined) q.set(k, String(v));
    return `/api/runs/${encodeURIComponent(run)}/series/${key.split("/").map(encodeURIComponent).join("/")}?${q}`;
  }

  async function fetchJSON(url) {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    return r.json();
  }

  // EMA with the same debiasing as TensorBoard, skipping nulls; ``state`` ({acc, w}) carries
  // on from points before these
  function ema(values, alpha, state) {
    const out = new Array(values.length);
    let acc = state ? state.acc : 0, w = state ? state.w : 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null || !isFinite(v)) { out[i] = null; continue; }
      acc = alpha * acc + (1 - alpha) * v;
      w = alpha * w + (1 - alpha);
      out[i] = acc / w;
    }
    return out;
  }

  // The EMA state just before the first point of a zoomed series, from the points of the
  // whole view loaded before the zoom: the smoothed line goes on across the zoom edge instead
  // of starting again at the first visible point.
  function warm(chart, s, alpha) {
    const base = chart.range && chart.base ? chart.base.find((b) => b.run === s.run) : null;
    if (!base || base === s || !s.steps.length) return null;
    const first = s.steps[0];
    let acc = 0, w = 0;
    for (let i = 0; i < base.steps.length && base.steps[i] < first; i++) {
      const v = base.values[i];
      if (v === null || !isFinite(v)) continue;
      acc = alpha * acc + (1 - alpha) * v;
      w = alpha * w + (1 - alpha);
    }
    return w > 0 ? { acc, w } : null;
  }

  function xOf(s) {
    if (ctl.xaxis.value === "wall") {
      const w0 = s.wall0 !== null ? s.wall0 : s.walls.find((w) => w !== null);
      return s.walls.map((w) => (w === null || w0 === undefined ? null : w - w0));
    }
    return s.steps;
  }

  function draw(chart) {
    const alpha = parseFloat(ctl.smooth.value);
    const traces = [];
    chart.series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const x = xOf(s);
      const label = runIds.length > 1 ? s.name : chart.key;
      traces.push({
        x, y: s.values, type: "scatter", mode: "lines", name: alpha > 0 ? label + " (raw)" : label,
        line: { color, width: 1 }, opacity: alpha > 0 ? 0.25 : 1, showlegend: alpha === 0 || runIds.length === 1,
      });
      if (alpha > 0) {
        traces.push({ x, y: ema(s.values, alpha, warm(chart, s, alpha)), type: "scatter", mode: "lines", name: label,
          line: { color, width: 2 } });
      }
    });
    // steps and seconds in plain digits (1,000,000), values in decimals or 3e-4
    const xaxis = { title: { text: ctl.xaxis.value === "wall" ? "seconds since first point" : "step" },
      exponentformat: "none", separatethousands: true };
    if (chart.range) { xaxis.range = chart.range; xaxis.autorange = false; }
    const yaxis = readableAxis({ type: "linear" }, traces.flatMap((t) => t.y), ctl.logy.checked);
    const layout = {
      title: { text: chart.key, font: { size: 13 } }, margin: { l: 60, r: 10, t: 30, b: 40 },
      height: 280, xaxis, yaxis,
      legend: { orientation: "h" }, uirevision: chart.key,
    };
    chart.drawing = true;
    return Plotly.react(chart.div, traces, layout, { displaylogo: false, responsive: true })
      .finally(() => { chart.drawing = false; });
  }

  async function load(chart, params) {
    const got = await Promise.all(chart.runs.map((run) =>
      fetchJSON(seriesUrl(run, chart.key, params)).catch(() => null)));
    chart.series = got.filter(Boolean).map((d) => ({
      run: d.run, name: d.name, steps: d.steps, walls: d.walls, values: d.values,
      wall0: d.first_wall, last: d.last_step,
    }));
    if (!params || (params.step_min === undefined && params.step_max === undefined)) {
      chart.base = chart.series; // the whole view: what a zoom's smoothing starts from
    }
    await draw(chart);
  }

  // the step range under an x-axis range (the wall axis is mapped through the loaded points)
  function stepRange(chart, r0, r1) {
    if (ctl.xaxis.value === "step") return [Math.floor(r0), Math.ceil(r1)];
    let lo = Infinity, hi = -Infinity;
    for (const s of chart.series) {
      const x = xOf(s);
      for (let i = 0; i < x.length; i++) {
        if (x[i] !== null && x[i] >= r0 && x[i] <= r1) { lo = Math.min(lo, s.steps[i]); hi = Math.max(hi, s.steps[i]); }
      }
      // keep the points just outside the range so the line reaches the edges
    }
    return lo <= hi ? [lo, hi] : null;
  }

  function addChart(key) {
    const div = document.createElement("div");
    div.className = "chart";
    div.dataset.key = key;
    host.appendChild(div);
    const chart = { key, div, runs: runIds.slice(), series: [], range: null, drawing: false, loaded: false };
    charts.set(key, chart);
    observer.observe(div);
  }

  // charts load when they scroll into view: a run with hundreds of metrics stays quick
  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      observer.unobserve(e.target);
      start(charts.get(e.target.dataset.key));
    }
  }, { rootMargin: "300px" });

  function start(chart) {
    const div = chart.div;
    load(chart).then(() => {
      chart.loaded = true;
      div.on("plotly_relayout", (ev) => {
        if (chart.drawing) return;
        if (ev["xaxis.autorange"]) { chart.range = null; load(chart); return; }
        // a drag-zoom sends range[0]/range[1]; Plotly.relayout(..., {"xaxis.range": [a, b]}) the pair
        const pair = ev["xaxis.range"];
        const r0 = pair ? pair[0] : ev["xaxis.range[0]"], r1 = pair ? pair[1] : ev["xaxis.range[1]"];
        if (r0 === undefined || r1 === undefined) return;
        const sr = stepRange(chart, r0, r1);
        chart.range = [r0, r1];
        if (sr) load(chart, { step_min: sr[0], step_max: sr[1] });
      });
    }).catch((e) => { div.textContent = String(e); });
  }

  // -- live: fetch only the points after the last one we have ---------------------------------
  async function poll() {
    if (!live) return;
    for (const chart of charts.values()) {
      if (!chart.loaded) continue;
      let grew = false;
      for (const s of chart.series) {
        const after = s.steps.length ? s.steps[s.steps.length - 1] : -1;
        const d = await fetchJSON(seriesUrl(s.run, chart.key, { after_step: after })).catch(() => null);
        if (!d || !d.steps.length) continue;
        s.steps = s.steps.concat(d.steps);
        s.walls = s.walls.concat(d.walls);
        s.values = s.values.concat(d.values);
        grew = true;
      }
      if (grew && !chart.range) {
        const total = chart.series.reduce((n, s) => n + s.steps.length, 0);
        if (total > 4 * MAX_POINTS * chart.series.length) await load(chart); // re-downsample
        else await draw(chart);
      }
    }
    // new keys and status: one small request per run
    let running = false;
    for (const run of runIds) {
      const info = await fetchJSON(`/api/runs/${encodeURIComponent(run)}`).catch(() => null);
      if (!info) continue;
      if (info.status === "running") running = true;
      if (runIds.length === 1) {
        const badge = document.getElementById("run-status");
        if (badge) { badge.textContent = info.status; badge.className = "status " + info.status; }
      }
      for (const k of Object.keys(info.metrics || {})) {
        if (!charts.has(k)) { keys.push(k); addChart(k); }
      }
    }
    live = running;
  }

  keys.forEach(addChart);
  // charts not loaded yet pick the settings up when they load
  const loaded = () => Array.from(charts.values()).filter((c) => c.loaded);
  ctl.xaxis.addEventListener("change", () => loaded().forEach((c) => { c.range = null; load(c); }));
  ctl.logy.addEventListener("change", () => loaded().forEach(draw));
  ctl.smooth.addEventListener("input", () => {
    ctl.smoothVal.textContent = ctl.smooth.value;
    loaded().forEach(draw);
  });
  if (live) {
    const tick = () => poll().finally(() => { if (live) setTimeout(tick, 2000); });
    setTimeout(tick, 2000);
  }
})();
