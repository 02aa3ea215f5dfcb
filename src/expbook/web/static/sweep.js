// expbook sweep page (/sweep): parallel coordinates over the params that vary and a metric
// (brushing an axis filters the runs table below), a scatter of any param or metric against
// the metric, and each param's importance for it. The data come from /api/sweep with this
// page's own query (project, search, filter, metric, goal, reduce). Nothing from the network
// but this server.
"use strict";

(function () {
  const form = document.getElementById("sweep-form");
  const status = document.getElementById("sweep-status");
  const params = new URLSearchParams(location.search);
  const GREY = "#c5cad3", ACCENT = "#2563eb";
  const config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };

  // another metric: its own goal is guessed again (unless chosen); goal and reduce: reload
  form.metric.addEventListener("change", () => { form.goal.disabled = true; form.submit(); });
  form.goal.addEventListener("change", () => form.submit());
  form.reduce.addEventListener("change", () => form.submit());

  function fmt(v) {
    if (v === null || v === undefined) return "";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3).replace(/\.?0+e/, "e");
    return String(Number(v.toPrecision(5)));
  }
  function decade(k) { return k === 0 ? "1" : k > 0 && k < 4 ? String(10 ** k) : "1e" + k; }
  // readable ticks: plain decimals or 3e-4, never SI prefixes
  function axis(extra) { return Object.assign({ exponentformat: "e", automargin: true }, extra); }

  fetch("/api/sweep?" + params.toString())
    .then((r) => r.json().then((d) => ({ ok: r.ok, d })))
    .then(({ ok, d }) => {
      if (!ok) throw new Error(d.error || "the sweep could not be read");
      draw(d);
    })
    .catch((e) => { status.textContent = String(e.message || e); status.className = "error"; });

  function draw(d) {
    for (const el of document.querySelectorAll(".metric-name")) el.textContent = d.metric;
    const rows = d.runs.map((r, i) => i).filter((i) => d.runs[i].metric !== null);
    const swept = d.params.filter((p) => !p.per_run);
    status.textContent = `${d.runs.length} runs, ${rows.length} with ${d.metric}` +
      ` (${d.reduce === "best" ? "best" : "last"} value: ${d.value}; ` +
      `${d.goal === "min" ? "lower" : "higher"} is better, ${d.goal_from})` +
      (swept.length ? "" : "; no param varies here");

    // -- parallel coordinates --------------------------------------------------------------
    const dims = [], keys = [];
    for (const p of swept) {
      const vs = rows.map((i) => p.values[i]);
      if (p.kind === "numeric") {
        if (p.log) {
          const logs = vs.map((v) => (v === null ? NaN : Math.log10(v)));
          const fin = logs.filter((v) => isFinite(v));
          const lo = Math.floor(Math.min(...fin)), hi = Math.ceil(Math.max(...fin));
          const ticks = [];
          for (let k = lo; k <= hi; k++) ticks.push(k);
          dims.push({ label: p.key + " (log)", values: logs, tickvals: ticks, ticktext: ticks.map(decade), range: [lo, hi] });
        } else {
          dims.push({ label: p.key, values: vs.map((v) => (v === null ? NaN : v)), tickformat: "~g" });
        }
      } else {
        const cats = p.categories.slice();
        if (vs.some((v) => v === null)) cats.push("(none)");
        const code = new Map(cats.map((c, n) => [c, n]));
        dims.push({
          label: p.key, values: vs.map((v) => code.get(v === null ? "(none)" : v)),
          tickvals: cats.map((c, n) => n), ticktext: cats, range: [-0.25, Math.max(cats.length - 0.75, 0.25)],
        });
      }
      keys.push(p.key);
    }
    const ys = rows.map((i) => d.runs[i].metric);
    dims.push({ label: d.metric, values: ys, tickformat: "~g" });
    keys.push("metric:" + d.metric);
    const pc = document.getElementById("parcoords");
    pc.dataset.dims = JSON.stringify(keys);
    Plotly.newPlot(pc, [{
      type: "parcoords", dimensions: dims,
      line: { color: ys, colorscale: "Viridis", reversescale: d.goal === "min", showscale: true,
              colorbar: { title: { text: d.metric, side: "right" }, exponentformat: "e", thickness: 12 } },
      labelangle: -12, labelside: "top",
    }], { margin: { l: 70, r: 70, t: 70, b: 30 }, font: { size: 11 } }, config);

    // which plotted rows pass every axis' brushed ranges
    let kept = rows.slice();
    function inRanges(v, cr) {
      if (!cr || !cr.length) return true;
      const ranges = Array.isArray(cr[0]) ? cr : [cr];
      return ranges.some(([a, b]) => v >= Math.min(a, b) && v <= Math.max(a, b));
    }
    function brushed() {
      const ds = pc.data[0].dimensions;
      return rows.filter((i, n) => ds.every((dim) => inRanges(dim.values[n], dim.constraintrange)));
    }
    pc.on("plotly_restyle", () => { kept = brushed(); table(); scatter(); });

    // -- runs table ------------------------------------------------------------------------
    const tbl = document.getElementById("sweep-runs");
    tbl.tHead.innerHTML = "";
    const hr = tbl.tHead.insertRow();
    for (const h of ["run", d.metric, ...swept.map((p) => p.key)]) {
      const th = document.createElement("th");
      th.textContent = h; th.title = h; hr.appendChild(th);
    }
    function table() {
      const order = kept.slice().sort((a, b) => (d.goal === "min" ? 1 : -1) * (d.runs[a].metric - d.runs[b].metric));
      const body = tbl.tBodies[0];
      body.innerHTML = "";
      for (const i of order) {
        const r = d.runs[i], tr = body.insertRow();
        tr.dataset.run = r.id;
        const a = document.createElement("a");
        a.href = "/runs/" + encodeURIComponent(r.id); a.textContent = r.name;
        tr.insertCell().appendChild(a);
        const m = tr.insertCell(); m.textContent = fmt(r.metric); m.className = "num metric";
        for (const p of swept) {
          const c = tr.insertCell(); c.textContent = fmt(p.values[i]);
          if (p.kind === "numeric") c.className = "num";
        }
      }
      document.getElementById("sweep-count").textContent =
        kept.length === rows.length ? `all ${rows.length}` : `${kept.length} of ${rows.length} (brushed)`;
    }

    // -- scatter ---------------------------------------------------------------------------
    const xsel = document.getElementById("scatter-x");
    const choices = [];
    for (const p of swept) choices.push({ value: p.key, label: p.key, p });
    for (const m of d.metrics) if (m !== d.metric) choices.push({ value: "summary." + m, label: "summary." + m, m });
    for (const c of choices) {
      const o = document.createElement("option");
      o.value = c.value; o.textContent = c.label; xsel.appendChild(o);
    }
    const wanted = params.get("x");
    if (wanted && choices.some((c) => c.value === wanted)) xsel.value = wanted;
    const sc = document.getElementById("scatter");
    function scatter() {
      const c = choices.find((c) => c.value === xsel.value);
      if (!c) { sc.textContent = "nothing to plot against " + d.metric; return; }
      const xOf = (i) => (c.p ? c.p.values[i] : (d.runs[i].metrics[c.m] ?? null));
      const keep = new Set(kept);
      const trace = (sel, name, color) => ({
        type: "scatter", mode: "markers", name,
        x: sel.map(xOf), y: sel.map((i) => d.runs[i].metric), text: sel.map((i) => d.runs[i].name),
        customdata: sel.map((i) => d.runs[i].id),
        marker: { color, size: 8, line: { width: 0.5, color: "#fff" } },
        hovertemplate: "%{text}<br>%{x}<br>" + d.metric + " %{y}<extra></extra>",
      });
      const out = rows.filter((i) => !keep.has(i));
      const xaxis = axis({ title: { text: c.label } });
      // a log axis labelled at its decades only (1e-4, 1e-3, 0.01), minor ticks unlabelled
      if (c.p && c.p.log) Object.assign(xaxis, { type: "log", tickmode: "linear", tick0: 0, dtick: 1, ticks: "outside", minor: { dtick: "D1", ticks: "outside", ticklen: 3 } });
      if (c.p && c.p.kind === "categorical") Object.assign(xaxis, { type: "category", categoryorder: "category ascending" });
      // the runs brushed out underneath, in grey
      Plotly.react(sc, [trace(out, "brushed out", GREY), trace(kept, "kept", ACCENT)], {
        margin: { l: 60, r: 10, t: 10, b: 50 }, xaxis, yaxis: axis({ title: { text: d.metric } }),
        legend: { orientation: "h", y: 1.08 }, showlegend: out.length > 0,
      }, config);
    }
    xsel.addEventListener("change", () => {
      params.set("x", xsel.value);
      history.replaceState(null, "", "?" + params.toString());
      scatter();
    });

    // -- importance ------------------------------------------------------------------------
    const imp = d.importance;
    document.getElementById("importance-method").textContent =
      `${imp.method}, over ${imp.runs} runs.` + (imp.note ? " " + imp.note + "." : "") +
      " Correlation: " + imp.correlation + ".";
    const bars = document.getElementById("importance");
    if (!imp.params.length) {
      bars.textContent = "no param varies here: nothing to rank";
    } else {
      const ps = imp.params.slice().reverse(); // the most important on top
      const labels = ps.map((p) => p.key);
      const traces = [];
      if (imp.model) {
        traces.push({
          type: "bar", orientation: "h", name: "permutation importance (random forest)",
          y: labels, x: ps.map((p) => p.importance), marker: { color: ACCENT },
          error_x: { type: "data", array: ps.map((p) => p.importance_std), visible: true, thickness: 1 },
        });
      }
      traces.push({
        type: "bar", orientation: "h", name: "correlation (Spearman ρ / η)",
        y: labels, x: ps.map((p) => p.correlation), marker: { color: "#f59e0b" },
        text: ps.map((p) => (p.measure === "eta" ? "η" : "ρ")), textposition: "auto",
      });
      Plotly.newPlot(bars, traces, {
        barmode: "group", margin: { l: 10, r: 10, t: 10, b: 40 },
        height: Math.max(260, 60 + 40 * ps.length * traces.length),
        xaxis: axis({ zeroline: true, title: { text: imp.model ? "importance / correlation" : "correlation" } }),
        yaxis: axis({}), legend: { orientation: "h", y: -0.25 },
      }, config);
    }

    table();
    scatter();
    if (sc.on) sc.on("plotly_click", (ev) => {
      const id = ev.points && ev.points[0] && ev.points[0].customdata;
      if (id) location.href = "/runs/" + encodeURIComponent(id);
    });
    document.body.dataset.sweepReady = "1";
  }
})();
