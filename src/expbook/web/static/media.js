// The run page's media: a step slider for image/audio/video/html strips, histograms over
// steps as a heatmap, and charts of logged plot tables. Every value is put in the page
// through textContent and attributes, never as HTML.
(function () {
  "use strict";

  function item(it) {
    if (it.type === "html") {
      var frame = document.createElement("iframe");
      frame.setAttribute("sandbox", "");
      frame.setAttribute("title", "logged html");
      frame.src = it.url;
      return frame;
    }
    var fig = document.createElement("figure");
    var el;
    if (it.type === "image" || /\.gif$/.test(it.url)) {
      el = document.createElement("img");
      el.alt = it.caption || "";
      el.loading = "lazy";
    } else if (it.type === "audio" || it.type === "video") {
      el = document.createElement(it.type);
      el.controls = true;
      el.preload = "none";
    } else {
      el = document.createElement("a");
      el.href = it.url;
      el.textContent = it.type;
    }
    if (el.tagName !== "A") el.src = it.url;
    fig.appendChild(el);
    var cap = document.createElement("figcaption");
    cap.textContent = it.caption || "";
    fig.appendChild(cap);
    return fig;
  }

  document.querySelectorAll(".strip").forEach(function (strip) {
    var steps = JSON.parse(strip.dataset.strip);
    var input = strip.querySelector("input[type=range]");
    if (!input) return;
    var out = strip.querySelector("output");
    var items = strip.querySelector(".items");
    input.addEventListener("input", function () {
      var s = steps[Number(input.value)];
      out.textContent = s.step;
      items.replaceChildren.apply(items, s.items.map(item));
    });
  });

  if (typeof Plotly === "undefined") return;
  var layout = { margin: { l: 60, r: 10, t: 24, b: 36 }, height: 280 };
  // readable ticks (app.js): plain decimals or 3e-4, never SI prefixes
  var axes = window.expbookAxes;
  function readable(traces, lay) { return axes ? axes.figure(traces, lay) : lay; }

  document.querySelectorAll(".hist-chart").forEach(function (el) {
    var hist = JSON.parse(el.dataset.hist);
    if (hist.length === 1) {
      var h = hist[0];
      var mids = h.counts.map(function (_, i) { return (h.bins[i] + h.bins[i + 1]) / 2; });
      var bars = [{ type: "bar", x: mids, y: h.counts }];
      Plotly.newPlot(el, bars, readable(bars, Object.assign({ xaxis: { title: "value" } }, layout)),
        { displaylogo: false });
      return;
    }
    // one column per step: each histogram's counts at the centres of its own bins
    var x = [], y = [], z = [];
    hist.forEach(function (h) {
      h.counts.forEach(function (c, i) {
        x.push(h.step); y.push((h.bins[i] + h.bins[i + 1]) / 2); z.push(c);
      });
    });
    var cells = [{
      type: "scatter", mode: "markers", x: x, y: y,
      marker: { color: z, colorscale: "Viridis", symbol: "square", size: 8, showscale: true,
        colorbar: { exponentformat: "e" } },
      hovertemplate: "step %{x}<br>value %{y}<br>count %{marker.color}<extra></extra>"
    }];
    Plotly.newPlot(el, cells,
      readable(cells, Object.assign({ xaxis: { title: "step" }, yaxis: { title: "value" } }, layout)),
      { displaylogo: false });
  });

  document.querySelectorAll(".plot-chart").forEach(function (el) {
    var chart = JSON.parse(el.dataset.chart);
    var table = JSON.parse(el.dataset.table);
    var xi = table.columns.indexOf(chart.x), yi = table.columns.indexOf(chart.y);
    if (xi < 0 || yi < 0) return;
    var trace = {
      x: table.data.map(function (r) { return r[xi]; }),
      y: table.data.map(function (r) { return r[yi]; })
    };
    if (chart.kind === "bar") trace.type = "bar";
    else { trace.type = "scatter"; trace.mode = chart.kind === "scatter" ? "markers" : "lines"; }
    Plotly.newPlot(el, [trace], readable([trace], Object.assign({
      title: { text: chart.title || "", font: { size: 13 } },
      xaxis: { title: chart.x }, yaxis: { title: chart.y }
    }, layout)), { displaylogo: false });
  });
})();
