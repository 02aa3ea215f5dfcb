// expbook dashboard: small line charts on a canvas, for the workspace's many panels (plotly.js
// takes over a second to evaluate; these draw a page of 200 runs in a few milliseconds).
//
//   const chart = expbookChart(el, {height, xTitle, xPlain, logY, onHover, hoverText});
//   chart.draw(traces)   // [{x, y, meta, name, line: {color, width, dash}, opacity, legend}]
//                        // or a band: {fill: "band", x, lo, hi, meta, color}
//   chart.highlight(meta) // the traces of ``meta`` drawn thick on top, the others faded
//   chart.pixel(x, y)     // page coordinates of a data point (tests point the mouse there)
//
// Ticks are plain decimals (0.25, 1,500) or scientific notation (3e-4), never SI prefixes; a
// log axis over two decades or more is labelled at its decades only, a narrower one at 1, 2
// and 5 times a power of ten. Names are shown as text (textContent), never as HTML.
"use strict";

(function () {
  const DASH = { solid: [], dot: [2, 3], dash: [6, 4], longdash: [10, 4], dashdot: [6, 3, 2, 3] };
  const FONT = "11px system-ui, sans-serif";
  const finite = (v) => typeof v === "number" && isFinite(v);

  // -- ticks -------------------------------------------------------------------------------------
  function niceStep(span, target) {
    const raw = span / Math.max(1, target);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }
  function sci(v, digits) {
    const [m, e] = v.toExponential(digits).split("e");
    return m.replace(/\.?0+$/, "") + "e" + (e[0] === "+" ? e.slice(1) : e);
  }
  // a tick label: plain digits (with thousands separators when ``plain``), decimals as many
  // as the step needs, or scientific notation for very small or large values
  function label(v, step, plain) {
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (plain && a >= 1 && Number.isInteger(step)) return Math.round(v).toLocaleString("en-US");
    if (a >= 1e5 || a < 1e-3) {
      const digits = Math.max(0, Math.min(6, Math.floor(Math.log10(a)) - Math.floor(Math.log10(step))));
      return sci(v, digits);
    }
    const decimals = Math.max(0, Math.min(10, -Math.floor(Math.log10(step) + 1e-9)));
    return v.toFixed(decimals);
  }
  function linearTicks(lo, hi, target, plain) {
    if (!(hi > lo)) return [{ v: lo, text: label(lo, Math.abs(lo) || 1, plain), major: true }];
    let step = niceStep(hi - lo, target);
    if (plain && step < 1) step = 1;
    const make = () => {
      const out = [];
      for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
        const v = Math.abs(k * step) < step * 1e-9 ? 0 : k * step;
        out.push({ v, text: label(v, step, plain), major: true });
      }
      return out;
    };
    let out = make();
    // at least two labelled ticks: a finer step (5 -> 2 -> 1 times a power of ten)
    for (let i = 0; i < 4 && out.length < 2 && !(plain && step <= 1); i++) {
      step = niceStep(step / 2, 1);
      out = make();
    }
    return out;
  }
  function decade(k) {
    const v = Math.pow(10, k);
    return k >= -3 && k <= 4 ? String(Number(v.toPrecision(6))) : "1e" + k;
  }
  // ticks of a log axis over [lo, hi] (positive): decades, or 1-2-5, or plain values
  function logTicks(lo, hi, target) {
    const a = Math.log10(lo) - 1e-9, b = Math.log10(hi) + 1e-9;
    const decades = [];
    for (let k = Math.ceil(a); k <= Math.floor(b); k++) decades.push(k);
    const out = [];
    if (decades.length >= 2) {
      const every = Math.max(1, Math.ceil(decades.length / target));
      for (let k = Math.floor(a); k <= Math.ceil(b); k++) {
        const v = Math.pow(10, k);
        if (k >= a && k <= b) out.push({ v, text: k % every === 0 ? decade(k) : "", major: k % every === 0 });
        if (every === 1) {
          for (let m = 2; m <= 9; m++) {
            const x = k + Math.log10(m);
            if (x >= a && x <= b) out.push({ v: m * v, text: "", major: false });
          }
        }
      }
      return out;
    }
    for (let k = Math.floor(a); k <= Math.ceil(b); k++) {
      for (const m of [1, 2, 5]) {
        const x = k + Math.log10(m);
        if (x >= a && x <= b) {
          const v = m * Math.pow(10, k);
          out.push({ v, text: Math.abs(v) < 1e-3 || v >= 1e5 ? sci(v, 0) : String(Number(v.toPrecision(6))), major: true });
        }
      }
    }
    if (out.length >= 2) return out;
    // narrower than 1-2-5: plain values spread over the range
    return linearTicks(lo, hi, target, false).filter((t) => t.v > 0);
  }

  // -- the chart ---------------------------------------------------------------------------------
  function expbookChart(el, opts) {
    opts = opts || {};
    const height = opts.height || 240;
    el.textContent = "";
    el.classList.add("xchart");
    const box = document.createElement("div");
    box.className = "xchart-box";
    box.style.position = "relative";
    box.style.height = height + "px";
    const canvas = document.createElement("canvas");
    canvas.style.display = "block";
    box.appendChild(canvas);
    const tip = document.createElement("div");
    tip.className = "xchart-tip";
    tip.hidden = true;
    box.appendChild(tip);
    el.appendChild(box);
    const legend = document.createElement("div");
    legend.className = "xchart-legend";
    el.appendChild(legend);

    const chart = { el, traces: [], hot: null, opts };
    let geo = null; // the last drawing's scales
    let lastWidth = 0;

    function extent(traces, log) {
      let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      for (const t of traces) {
        const ys = t.fill === "band" ? [t.lo, t.hi] : [t.y];
        for (let i = 0; i < t.x.length; i++) {
          const x = t.x[i];
          if (!finite(x)) continue;
          let any = false;
          for (const arr of ys) {
            const y = arr[i];
            if (!finite(y) || (log && y <= 0)) continue;
            any = true;
            if (y < y0) y0 = y;
            if (y > y1) y1 = y;
          }
          if (any) { if (x < x0) x0 = x; if (x > x1) x1 = x; }
        }
      }
      return { x0, x1, y0, y1 };
    }

    function render() {
      const traces = chart.traces;
      const width = Math.max(120, box.clientWidth || el.clientWidth || 400);
      lastWidth = box.clientWidth; // the ResizeObserver draws again only when this changes
      const dpr = window.devicePixelRatio || 1;
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.width = width + "px";
      canvas.style.height = height + "px";
      const ctx = canvas.getContext("2d");
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, width, height);
      ctx.font = FONT;
      const log = !!opts.logY;
      let { x0, x1, y0, y1 } = extent(traces, log);
      if (!(x1 >= x0) || !(y1 >= y0)) { geo = null; return; }
      if (x1 === x0) { x0 -= 1; x1 += 1; }
      let ly0, ly1;
      if (log) {
        ly0 = Math.log10(y0); ly1 = Math.log10(y1);
        if (ly1 === ly0) { ly0 -= 0.5; ly1 += 0.5; }
        const pad = (ly1 - ly0) * 0.04;
        ly0 -= pad; ly1 += pad;
      } else {
        if (y1 === y0) { const d = Math.abs(y0) * 0.1 || 1; y0 -= d; y1 += d; }
        const pad = (y1 - y0) * 0.04;
        ly0 = y0 - pad; ly1 = y1 + pad;
      }
      const plotH = height - 6 - 36;
      const yt = log
        ? logTicks(Math.pow(10, ly0), Math.pow(10, ly1), Math.max(2, Math.floor(plotH / 40)))
        : linearTicks(ly0, ly1, Math.max(2, Math.floor(plotH / 40)), false);
      const left = 10 + Math.max(20, ...yt.map((t) => ctx.measureText(t.text).width));
      const L = left, R = width - 10, T = 6, B = height - 36;
      const xt = linearTicks(x0, x1, Math.max(2, Math.floor((R - L) / 60)), !!opts.xPlain);
      const sx = (x) => L + ((x - x0) / (x1 - x0)) * (R - L);
      const sy = log
        ? (y) => B - ((Math.log10(y) - ly0) / (ly1 - ly0)) * (B - T)
        : (y) => B - ((y - ly0) / (ly1 - ly0)) * (B - T);
      geo = { L, R, T, B, sx, sy, log, x0, x1 };

      // grid, ticks and labels
      ctx.strokeStyle = "#eceef2";
      ctx.lineWidth = 1;
      ctx.fillStyle = "#5c6370";
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      for (const t of yt) {
        const y = Math.round(sy(t.v)) + 0.5;
        if (y < T - 0.5 || y > B + 0.5) continue;
        ctx.strokeStyle = t.major ? "#e3e6eb" : "#f3f4f7";
        ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(R, y); ctx.stroke();
        ctx.strokeStyle = "#9aa1ad";
        ctx.beginPath(); ctx.moveTo(L - (t.major ? 5 : 3), y); ctx.lineTo(L, y); ctx.stroke();
        if (t.text) ctx.fillText(t.text, L - 7, y);
      }
      ctx.textAlign = "center";
      ctx.textBaseline = "top";
      for (const t of xt) {
        const x = Math.round(sx(t.v)) + 0.5;
        if (x < L - 0.5 || x > R + 0.5) continue;
        ctx.strokeStyle = "#f0f2f5";
        ctx.beginPath(); ctx.moveTo(x, T); ctx.lineTo(x, B); ctx.stroke();
        ctx.strokeStyle = "#9aa1ad";
        ctx.beginPath(); ctx.moveTo(x, B); ctx.lineTo(x, B + 4); ctx.stroke();
        ctx.fillText(t.text, x, B + 6);
      }
      ctx.strokeStyle = "#9aa1ad";
      ctx.beginPath(); ctx.moveTo(L + 0.5, T); ctx.lineTo(L + 0.5, B + 0.5); ctx.lineTo(R, B + 0.5); ctx.stroke();
      if (opts.xTitle) { ctx.fillStyle = "#3b4252"; ctx.fillText(opts.xTitle, (L + R) / 2, B + 21); }
      chart.ticks = { x: xt.filter((t) => t.text).map((t) => t.text), y: yt.filter((t) => t.text).map((t) => t.text) };

      ctx.save();
      ctx.beginPath(); ctx.rect(L, T - 2, R - L, B - T + 4); ctx.clip();
      const hot = chart.hot;
      const isHot = (t) => hot !== null && t.meta === hot;
      const fade = hot === null ? 1 : 0.2;
      const ok = (x, y) => finite(x) && finite(y) && (!log || y > 0);
      // bands first, then lines; the highlighted traces last, on top
      for (const t of traces) {
        if (t.fill !== "band") continue;
        t.opacity = hot === null || isHot(t) ? 1 : fade;
        ctx.globalAlpha = 0.2 * t.opacity;
        ctx.fillStyle = t.color;
        let seg = [];
        const flush = () => {
          if (seg.length > 1) {
            ctx.beginPath();
            seg.forEach((i, j) => (j ? ctx.lineTo(sx(t.x[i]), sy(t.hi[i])) : ctx.moveTo(sx(t.x[i]), sy(t.hi[i]))));
            for (let j = seg.length - 1; j >= 0; j--) ctx.lineTo(sx(t.x[seg[j]]), sy(t.lo[seg[j]]));
            ctx.closePath();
            ctx.fill();
          }
          seg = [];
        };
        for (let i = 0; i < t.x.length; i++) {
          if (ok(t.x[i], t.lo[i]) && ok(t.x[i], t.hi[i])) seg.push(i); else flush();
        }
        flush();
      }
      const line = (t, width, alpha) => {
        ctx.globalAlpha = alpha;
        ctx.strokeStyle = t.line.color;
        ctx.lineWidth = width;
        ctx.setLineDash(DASH[t.line.dash || "solid"] || []);
        ctx.beginPath();
        let pen = false;
        for (let i = 0; i < t.x.length; i++) {
          const x = t.x[i], y = t.y[i];
          if (!ok(x, y)) { pen = false; continue; }
          if (pen) ctx.lineTo(sx(x), sy(y)); else { ctx.moveTo(sx(x), sy(y)); pen = true; }
        }
        ctx.stroke();
        // a lone point between gaps: a dot
        if (t.x.length === 1 && ok(t.x[0], t.y[0])) {
          ctx.fillStyle = t.line.color;
          ctx.fillRect(sx(t.x[0]) - 1.5, sy(t.y[0]) - 1.5, 3, 3);
        }
      };
      ctx.lineJoin = "round";
      for (const t of traces) {
        if (t.fill === "band" || !t.x) continue;
        t.opacity = hot === null || isHot(t) ? 1 : fade;
        t.line.width = isHot(t) ? t.line.base * 2.5 : t.line.base;
        if (!isHot(t)) line(t, t.line.width, t.opacity);
      }
      for (const t of traces) if (t.fill !== "band" && t.x && isHot(t)) line(t, t.line.width, 1);
      ctx.restore();
      ctx.globalAlpha = 1;
      ctx.setLineDash([]);
      el.dataset.rendered = String((Number(el.dataset.rendered) || 0) + 1);
    }

    function drawLegend() {
      legend.textContent = "";
      for (const t of chart.traces) {
        if (!t.legend) continue;
        const item = document.createElement("span");
        item.className = "legenditem";
        item.dataset.meta = t.meta || "";
        const mark = document.createElement("i");
        mark.style.borderTop = `2px ${t.line.dash && t.line.dash !== "solid" ? "dashed" : "solid"} ${t.line.color}`;
        const text = document.createElement("span");
        text.className = "legendtext";
        text.textContent = t.name;
        item.append(mark, text);
        legend.appendChild(item);
        if (opts.onHover && t.meta && !String(t.meta).startsWith("key:")) {
          item.addEventListener("mouseenter", () => opts.onHover(t.meta));
          item.addEventListener("mouseleave", () => opts.onHover(null));
        }
      }
      legend.hidden = !legend.childNodes.length;
    }

    // -- hover: the nearest point of a line within 12 px --------------------------------------
    function nearest(px, py) {
      if (!geo) return null;
      let best = null, bd = 144;
      for (const t of chart.traces) {
        if (t.fill === "band" || !t.x || t.hover === false) continue;
        for (let i = 0; i < t.x.length; i++) {
          const x = t.x[i], y = t.y[i];
          if (!finite(x) || !finite(y) || (geo.log && y <= 0)) continue;
          const dx = geo.sx(x) - px;
          if (dx > 12 || dx < -12) continue;
          const dy = geo.sy(y) - py, d = dx * dx + dy * dy;
          if (d < bd) { bd = d; best = { trace: t, index: i }; }
        }
      }
      return best;
    }
    canvas.addEventListener("mousemove", (ev) => {
      const r = canvas.getBoundingClientRect();
      const px = ev.clientX - r.left, py = ev.clientY - r.top;
      const hit = nearest(px, py);
      if (!hit) {
        tip.hidden = true;
        if (opts.onHover) opts.onHover(null);
        return;
      }
      const { trace, index } = hit;
      const lines = opts.hoverText ? opts.hoverText(trace, index) : [trace.name, String(trace.y[index])];
      tip.textContent = "";
      lines.forEach((s, i) => {
        if (i) tip.appendChild(document.createElement("br"));
        tip.appendChild(document.createTextNode(s));
      });
      tip.style.borderColor = trace.line.color;
      tip.hidden = false;
      const x = geo.sx(trace.x[index]), y = geo.sy(trace.y[index]);
      const w = tip.offsetWidth;
      tip.style.left = (x + 10 + w > geo.R ? Math.max(0, x - 10 - w) : x + 10) + "px";
      tip.style.top = Math.max(0, y - tip.offsetHeight - 6) + "px";
      if (opts.onHover) opts.onHover(trace.meta);
    });
    canvas.addEventListener("mouseleave", () => {
      tip.hidden = true;
      if (opts.onHover) opts.onHover(null);
    });

    chart.draw = (traces) => {
      for (const t of traces) if (t.line && t.line.base === undefined) t.line.base = t.line.width || 1;
      chart.traces = traces;
      el.data = traces;
      drawLegend();
      render();
    };
    chart.highlight = (meta) => {
      if (meta === chart.hot) return;
      chart.hot = meta;
      render();
    };
    chart.setLog = (log) => { opts.logY = !!log; render(); };
    chart.pixel = (x, y) => {
      const r = canvas.getBoundingClientRect();
      return [r.left + geo.sx(x), r.top + geo.sy(y)];
    };
    if (window.ResizeObserver) {
      new ResizeObserver(() => {
        const w = box.clientWidth;
        if (w && w !== lastWidth) { lastWidth = w; if (chart.traces.length) render(); }
      }).observe(box);
    }
    el.chart = chart;
    return chart;
  }

  window.expbookChart = expbookChart;
  window.expbookChart.ticks = { linear: linearTicks, log: logTicks, label };
})();
