// kubetune's dashboard page: a hash-routed page over the JSON API (see server.py), or over
// the answers a report file carries (window.KUBETUNE_REPORT, see report.py). Every URL is
// relative, so the page also works behind a proxy that serves it under a sub-path.
"use strict";

const REPORT = window.KUBETUNE_REPORT || null;
const COLOURS = { Succeeded: "#2563eb", EarlyStopped: "#ea580c", Failed: "#dc2626",
  Killed: "#6b7280", Running: "#16a34a", Pending: "#a3a3a3", Queued: "#ca8a04" };
const SYMBOLS = { Succeeded: "circle", EarlyStopped: "diamond-open", Failed: "x-thin-open",
  Killed: "square-open", Running: "circle-open", Pending: "circle-open", Queued: "circle-open" };
const CONFIG = { displaylogo: false, responsive: true };
const PAGE = 50;
const POLL_MS = 500;
let timer = null;
let stopLazy = () => {};
// Plotly (1.5 MB) is fetched only once a page has sketched its first plot: in a fresh
// browser on a slow machine it takes 1.5 s to load, all of it on the thread that would
// otherwise draw the header, the table and the sketches. A report carries it inline.
let plotlyLoading = null;
function loadPlotly() {
  if (!plotlyLoading) plotlyLoading = new Promise((resolve) => {
    if (window.Plotly) { resolve(); return; }
    const tag = el("script", { src: "static/plotly-cartesian.min.js", id: "plotly" });
    tag.addEventListener("load", () => { performance.mark("kubetune:plotly"); resolve(); });
    tag.addEventListener("error", () => {
      document.getElementById("live").before(el("span", { id: "plotly-missing" }, "Plotly did not load: the plots stay sketches (no hover or zoom)"));
    });
    document.head.append(tag);
  });
  return plotlyLoading;
}
let generation = 0;   // a route change makes the pending polls of the last page moot

// ----- helpers -----------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A performance mark, once a page: the benchmark reads them.
function mark(name) { if (!performance.getEntriesByName(name).length) performance.mark(name); }

function fmt(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1e4 || Math.abs(value) < 1e-3 ? value.toExponential(3) : value.toPrecision(5).replace(/\.?0+$/, "");
  }
  return String(value);
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)}s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

function phase(name) { return el("span", { class: `phase ${name}` }, name); }
function studyHref(key) { return `#/study/${encodeURIComponent(key)}`; }
function trialHref(key, trial) { return `${studyHref(key)}/trial/${encodeURIComponent(trial)}`; }
function apiPath(key, ...rest) { return ["api", "studies", encodeURIComponent(key), ...rest.map(encodeURIComponent)].join("/"); }

async function api(path, etag) {
  if (REPORT) {
    if (!(path in REPORT.responses)) throw new Error(`not kept in this report: ${path}`);
    return { status: 200, body: REPORT.responses[path], etag: null };
  }
  const headers = etag ? { "If-None-Match": etag } : {};
  const response = await fetch(path, { headers, cache: "no-cache" });
  if (response.status === 304) return { status: 304 };
  const text = await response.text();
  const isJson = (response.headers.get("Content-Type") || "").startsWith("application/json");
  const body = isJson ? JSON.parse(text) : text;
  if (!response.ok) throw new Error(isJson ? body.error : text);
  return { status: response.status, body, etag: response.headers.get("ETag") };
}

function poll(fn) {
  if (REPORT) return;
  const mine = generation;
  const tick = async () => {
    if (mine !== generation) return;
    try { await fn(); document.getElementById("live").textContent = `live · ${new Date().toLocaleTimeString()}`; }
    catch (error) { document.getElementById("live").textContent = `not updating: ${error.message}`; }
    if (mine === generation) timer = setTimeout(tick, POLL_MS);
  };
  timer = setTimeout(tick, POLL_MS);
}

// Every plot is drawn twice: at once as a sketch (sketch.js: plain SVG, a few milliseconds),
// then by Plotly (hover, zoom, pan), one plot a turn once Plotly has loaded, so the page
// never waits for Plotly to show a plot nor freezes while Plotly draws them all.
const upgrades = new Map();
let upgrading = false;

function upgradeNext() {
  const [div, draw] = upgrades.entries().next().value || [];
  if (!div) {
    upgrading = false;
    mark("kubetune:interactive");
    return;
  }
  upgrades.delete(div);
  if (div.isConnected) draw();
  setTimeout(upgradeNext, 0);
}

// A note in place of a plot. A div Plotly drew is purged first: Plotly.react into a div
// whose plot was removed behind its back draws nothing (a contour pair that cannot be drawn,
// then one that can, showed an empty plot).
function message(div, text) {
  upgrades.delete(div);
  if (window.Plotly && div.classList.contains("js-plotly-plot")) Plotly.purge(div);
  div.classList.remove("js-plotly-plot");
  for (const name of ["points", "rendered", "sketched", "sketchPoints"]) delete div.dataset[name];
  div.replaceChildren(el("p", { class: "muted" }, text));
}

function plot(div, traces, layout, key, count) {
  const full = { margin: { l: 60, r: 20, t: 36, b: 46 }, hovermode: "closest", legend: { orientation: "h", y: -0.22 }, ...layout };
  // What was drawn, for people and tests alike: the points of every trace, nulls excluded.
  let points = 0;
  for (const trace of traces) {
    if (trace.type === "contour" || trace.type === "heatmap") points += trace.z.flat().filter((v) => v !== null).length;
    else if (trace.type === "bar") points += trace.x.length;
    else if (!trace.meta || trace.meta !== "guide") points += (trace.y || []).filter((v) => v !== null).length;
  }
  if (count !== undefined) points = count;
  const drawPlotly = () => {
    if (!div.classList.contains("js-plotly-plot")) div.replaceChildren();  // the sketch, or a "not yet" message
    Plotly.react(div, traces, full, CONFIG);
    if (key && !div.dataset.clicks) {
      div.dataset.clicks = "true";
      div.on("plotly_click", (event) => {
        const trial = event.points[0] && event.points[0].customdata;
        if (typeof trial === "string") location.hash = trialHref(key, trial);
      });
    }
    div.dataset.points = String(points);
    div.dataset.rendered = "true";
  };
  if (window.Plotly && div.classList.contains("js-plotly-plot")) { upgrades.delete(div); drawPlotly(); return; }
  div.dataset.sketchPoints = String(window.kubetuneSketch(div, traces, full));
  div.dataset.points = String(points);
  div.dataset.sketched = "true";
  if (key && !div.dataset.sketchClicks) {
    div.dataset.sketchClicks = "true";
    div.addEventListener("click", (event) => {
      const trial = event.target.dataset && event.target.dataset.trial;
      if (trial && !div.classList.contains("js-plotly-plot")) location.hash = trialHref(key, trial);
    });
  }
  upgrades.set(div, drawPlotly);
  // After the next frame, so that the sketches are on screen before Plotly loads.
  if (!upgrading) { upgrading = true; requestAnimationFrame(() => setTimeout(() => loadPlotly().then(upgradeNext), 0)); }
}

// ----- every study -------------------------------------------------------------------------

const listState = { namespace: "", phase: "", text: "" };

async function renderList(app) {
  document.getElementById("where").textContent = "studies";
  const [studies, status] = await Promise.all([api("api/studies"), REPORT ? { body: { errors: [] } } : api("api/status")]);
  app.replaceChildren();
  for (const error of status.body.errors) app.append(el("div", { class: "error" }, error));
  const namespaces = [...new Set(studies.body.map((s) => s.namespace ?? "(local)"))].sort();
  const phases = [...new Set(studies.body.map((s) => s.phase))].sort();
  const select = (name, values) => el("select", { id: `filter-${name}`, onchange: (e) => { listState[name] = e.target.value; draw(); } },
    el("option", { value: "" }, `every ${name}`), values.map((v) => el("option", { value: v }, v)));
  const text = el("input", { id: "filter-text", placeholder: "filter by name", value: listState.text, oninput: (e) => { listState.text = e.target.value; draw(); } });
  const chosen = new Set();
  const compare = el("a", { class: "button", id: "compare", href: "#/compare" }, "compare the ticked studies");
  const tick = () => { compare.href = `#/compare/${[...chosen].map(encodeURIComponent).join("/")}`; compare.classList.toggle("disabled", chosen.size < 2); };
  const filters = el("div", { class: "filters" }, select("namespace", namespaces), select("phase", phases), text, compare);
  const table = el("table", { id: "studies" });
  app.append(el("h1", {}, "Studies"), filters, table);
  document.getElementById("filter-namespace").value = listState.namespace;
  document.getElementById("filter-phase").value = listState.phase;
  let rows = studies.body;
  function draw() {
    const shown = rows.filter((s) => (!listState.namespace || (s.namespace ?? "(local)") === listState.namespace)
      && (!listState.phase || s.phase === listState.phase) && s.name.includes(listState.text));
    table.replaceChildren(el("tr", {}, ["", "Study", "Namespace", "Phase", "Progress", "Best", "Metric", "Algorithm", "Early stopping", "Age"].map((h) => el("th", {}, h))),
      ...shown.map((s) => el("tr", { "data-key": s.key },
        el("td", {}, el("input", { type: "checkbox", class: "pick", "data-key": s.key, checked: chosen.has(s.key) ? "" : null,
          onchange: (e) => { if (e.target.checked) chosen.add(s.key); else chosen.delete(s.key); tick(); } })),
        el("td", {}, el("a", { href: studyHref(s.key) }, s.name)),
        el("td", { title: s.source }, s.namespace ?? "(local)"),
        el("td", {}, phase(s.phase)),
        el("td", { class: "num" }, s.progress || `${s.trials}/${s.maxTrials}`),
        el("td", { class: "num" }, s.best ? fmt(s.best.objective) : "–"),
        el("td", {}, `${s.goal === "maximize" ? "max" : "min"} ${s.metric}`),
        el("td", {}, s.algorithm), el("td", {}, s.earlyStopping), el("td", {}, age(s.age)))));
    if (!shown.length) table.append(el("tr", {}, el("td", { colspan: 10, class: "muted" }, rows.length ? "no study matches the filters" : "no studies found")));
  }
  draw();
  tick();
  poll(async () => { rows = (await api("api/studies")).body; draw(); });
}

// ----- several studies side by side ----------------------------------------------------------

const STUDY_COLOURS = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#4b5563"];

async function renderCompare(app, keys) {
  document.getElementById("where").textContent = `comparing ${keys.length} studies`;
  const views = await Promise.all(keys.map((key) => api(apiPath(key)).then((r) => r.body)));
  const metrics = [...new Set(views.map((v) => `${v.summary.goal} ${v.summary.metric}`))];
  const best = el("div", { class: "plot", id: "plot-compare-best" });
  const edf = el("div", { class: "plot", id: "plot-compare-distribution" });
  const legend = el("table", { id: "compared" }, el("tr", {}, ["", "study", "objective", "trials", "best"].map((h) => el("th", {}, h))),
    views.map((v, i) => el("tr", { "data-key": keys[i] }, el("td", {}, el("span", { class: "swatch", style: `background:${STUDY_COLOURS[i % STUDY_COLOURS.length]}` })),
      el("td", {}, el("a", { href: studyHref(keys[i]) }, keys[i])), el("td", {}, `${v.summary.goal} ${v.summary.metric}`),
      el("td", { class: "num" }, v.distribution.trials), el("td", { class: "num" }, v.summary.best ? fmt(v.summary.best.objective) : "–"))));
  app.replaceChildren(el("p", {}, el("a", { href: "#/" }, "← every study")), el("h1", {}, "Compare studies"),
    ...(metrics.length > 1 ? [el("div", { class: "error", id: "compare-warning" }, `These studies optimise different things (${metrics.join("; ")}): their values share an axis but may not be comparable.`)] : []),
    el("div", { class: "card" }, legend),
    el("div", { class: "grid" }, el("div", { class: "card" }, best, el("p", { class: "note", id: "note-compare-best" }, "The best objective so far against the trial's index, each study in its colour.")),
      el("div", { class: "card" }, edf, el("p", { class: "note", id: "note-compare-distribution" }, "For each value, the share of a study's finished trials at least as good (an empirical distribution): a curve further towards good values means more of that study's trials were good. The axis spans the studies' robust ranges (3 IQR past the quartiles): a curve that ends below 1 has trials beyond it."))));
  const colour = (i) => STUDY_COLOURS[i % STUDY_COLOURS.length];
  plot(best, views.map((v, i) => ({ type: "scatter", mode: "lines", name: keys[i], x: v.objective.bestSoFar.x, y: v.objective.bestSoFar.y,
    line: { shape: "hv", color: colour(i), width: 2 }, hovertemplate: `${keys[i]}: trial %{x} best %{y}<extra></extra>` })),
  { title: { text: "best so far" }, xaxis: { title: { text: "trial" } }, yaxis: { title: { text: metrics.length === 1 ? views[0].summary.metric : "objective" } } });
  const ranges = views.map((v) => v.distribution.range).filter(Boolean);
  const span = ranges.length ? [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))] : undefined;
  plot(edf, views.map((v, i) => ({ type: "scatter", mode: "lines", name: keys[i], x: v.distribution.x, y: v.distribution.y,
    line: { shape: "hv", color: colour(i), width: 2 }, hovertemplate: `${keys[i]}: %{y:.0%} of trials at least as good as %{x}<extra></extra>` })),
  { title: { text: "distribution of the objective" }, xaxis: { title: { text: metrics.length === 1 ? views[0].summary.metric : "objective" }, range: span }, yaxis: { title: { text: "share of trials at least as good" }, range: [0, 1.02] } });
}

// ----- one study ---------------------------------------------------------------------------

function drawObjective(div, data, key) {
  const o = data.objective;
  const traces = [];
  if (o.density) traces.push({ type: "heatmap", name: "every trial (density)", x: o.density.x, y: o.density.y, z: o.density.z, meta: "guide",
    colorscale: [[0, "#eef2ff"], [1, "#1e3a8a"]], showscale: false, hovertemplate: "trials %{x:.0f}: %{z} near %{y}<extra>density</extra>" });
  for (const [state, s] of Object.entries(o.states)) traces.push({
    type: "scatter", mode: "markers", name: state, x: s.x, y: s.y, customdata: s.trial,
    text: s.value.map((v, i) => (v !== s.y[i] ? `${fmt(v)} (off the chart)` : fmt(v))),
    hovertemplate: "%{customdata}: %{text}<extra>" + state + "</extra>",
    marker: { color: COLOURS[state] || "#000", symbol: SYMBOLS[state] || "circle", size: o.density ? 5 : 7 },
  });
  traces.push({ type: "scatter", mode: "lines", name: "best so far", x: o.bestSoFar.x, y: o.bestSoFar.y, line: { shape: "hv", color: "#16a34a" }, meta: "guide", hoverinfo: "skip" });
  if (o.best) traces.push({ type: "scatter", mode: "markers", name: `best: ${o.best.trial}`, x: [o.best.x], y: [o.best.y], customdata: [o.best.trial], meta: "guide",
    marker: { symbol: "star", size: 16, color: "#facc15", line: { color: "#000", width: 1 } }, hovertemplate: "best %{customdata}: %{y}<extra></extra>" });
  plot(div, traces, { title: { text: `${o.metric} per trial` }, xaxis: { title: { text: "trial" } }, yaxis: { title: { text: o.metric }, range: o.yrange } }, key);
  const notes = [];
  if (o.density) notes.push(`${o.points} trials: the shading counts every trial; the ${o.drawn} drawn as points are the best third and an even sample of the rest.`);
  if (o.clipped) notes.push(`${o.clipped} trial(s) lie outside the y-range (robust: 3 IQR past the quartiles) and are drawn on its edge; hover for their value.`);
  return notes.join(" ");
}

function drawCurves(div, data, key) {
  const c = data.curves;
  if (!c.curves) { message(div, "no learning curves: no trial reported a step (kubetune.report(step=..., ...))"); return ""; }
  const traces = Object.entries(c.states).map(([state, s]) => ({
    type: "scatter", mode: c.shown > 50 ? "lines" : "lines+markers", name: state, x: s.x, y: s.y, customdata: s.trial, connectgaps: false,
    line: { color: COLOURS[state] || "#000", width: 1, dash: state === "EarlyStopped" ? "dot" : "solid" }, marker: { size: 3 }, opacity: 0.75,
    hovertemplate: "%{customdata} step %{x}: %{y}<extra>" + state + "</extra>",
  }));
  const st = c.stops;
  if (st.x.length) {
    const seg = { x: [], y: [] };
    st.x.forEach((x, i) => { seg.x.push(x, x, null); seg.y.push(st.value[i], st.threshold[i], null); });
    traces.push({ type: "scatter", mode: "lines", name: "value → threshold", x: seg.x, y: seg.y, meta: "guide", hoverinfo: "skip", line: { color: "#ea580c", dash: "dot", width: 1 } });
    traces.push({ type: "scatter", mode: "markers", name: "thresholds failed", x: st.x, y: st.threshold, meta: "guide", hoverinfo: "skip", marker: { symbol: "line-ew-open", size: 12, color: "#ea580c" } });
    traces.push({ type: "scatter", mode: "markers", name: "early stops", x: st.x, y: st.value, customdata: st.trial,
      text: st.x.map((x, i) => `${st.rule[i]} at step ${x}: ${fmt(st.value[i])} vs threshold ${fmt(st.threshold[i])}<br>${st.reason[i]}`),
      hovertemplate: "%{customdata}: %{text}<extra>stopped</extra>", marker: { symbol: "x", size: 9, color: "#ea580c" } });
  }
  plot(div, traces, { title: { text: "learning curves and early stops" }, xaxis: { title: { text: "step" } }, yaxis: { title: { text: c.metric }, range: c.yrange } }, key);
  const shown = c.shown < c.curves ? `${c.shown} of ${c.curves} curves drawn (the best, the stopped, then an even sample), each thinned to at most 40 points. ` : "";
  const marked = st.x.length < c.stopped ? `${st.x.length} of ${c.stopped} early stops marked` : `${c.stopped} early stop(s)`;
  return `${shown}${marked}: × is the value the trial had at the step it was stopped, – the threshold it failed.`;
}

const VIRIDIS = ["#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725"];

// Parallel coordinates in SVG: each axis scaled to [0, 1], one line per trial, coloured in
// six bands of the objective (brighter is better). Plotly's own parcoords needs WebGL.
function drawParallel(div, data, goal, key) {
  const p = data.parallel;
  if (!p.lines) { message(div, "no finished trial yet"); return ""; }
  const dims = p.dimensions;
  const objective = dims[dims.length - 1].values;
  const sorted = objective.slice().sort((a, b) => a - b);
  const cut = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const edges = [1, 2, 3, 4, 5].map((k) => cut(k / 6));
  const band = (v) => { let b = edges.filter((e) => v >= e).length; return goal === "minimize" ? 5 - b : b; };
  const scale = dims.map((d) => {
    const [lo, hi] = d.range || [0, Math.max(1, (d.ticktext || []).length - 1)];
    return (v) => (v === null || v === undefined ? null : hi === lo ? 0.5 : Math.min(1, Math.max(0, (v - lo) / (hi - lo))));
  });
  const bands = VIRIDIS.map(() => ({ x: [], y: [], trial: [] }));
  objective.forEach((value, i) => {
    const b = bands[band(value)];
    dims.forEach((d, j) => { b.x.push(j); b.y.push(scale[j](d.values[i])); b.trial.push(p.trial[i]); });
    b.x.push(null); b.y.push(null); b.trial.push(null);
  });
  const traces = bands.map((b, i) => ({ type: "scatter", mode: "lines", x: b.x, y: b.y, customdata: b.trial, showlegend: false,
    line: { color: VIRIDIS[i], width: 1 }, opacity: 0.55, hovertemplate: "%{customdata}<extra></extra>" }));
  const annotations = [];
  dims.forEach((d, j) => {
    // The axis name above its axis, in paper coordinates: Plotly drops an annotation whose
    // data coordinates lie outside the axis range.
    annotations.push({ x: j, y: 1, xref: "x", yref: "paper", text: `<b>${d.label}</b>`, showarrow: false, yanchor: "bottom", yshift: 6 });
    const ticks = d.tickvals ? d.tickvals.map((v, k) => [scale[j](v), d.ticktext[k]]) : [[0, fmt(d.range[0])], [1, fmt(d.range[1])]];
    for (const [y, text] of ticks) annotations.push({ x: j, y, text, showarrow: false, xanchor: "right", xshift: -4, font: { size: 10, color: "#6b7280" } });
  });
  const axes = dims.map((d, j) => ({ type: "line", x0: j, x1: j, y0: 0, y1: 1, line: { color: "#9ca3af", width: 1 } }));
  plot(div, traces, { title: { text: "parallel coordinates (finished trials)" }, margin: { l: 60, r: 30, t: 70, b: 20 },
    xaxis: { visible: false, range: [-0.4, dims.length - 0.8] }, yaxis: { visible: false, range: [-0.05, 1.05] }, shapes: axes, annotations }, key, p.lines);
  const clipped = p.clipped ? ` ${p.clipped} trial(s) with ${dims[dims.length - 1].label} outside the robust range (3 IQR past the quartiles) end on its edge.` : "";
  return `${p.lines === p.trials ? p.lines : `${p.lines} of ${p.trials}`} trials${p.lines < p.trials ? " (the best third and an even sample)" : ""}; brighter is better.${clipped}`;
}

function drawImportance(div, data) {
  const imp = data.importance;
  if (!imp.values.length) { message(div, `parameter importance needs at least 8 finished trials (${imp.trials} so far)`); return ""; }
  const values = [...imp.values].reverse();
  plot(div, [{ type: "bar", orientation: "h", x: values.map((v) => v.value), y: values.map((v) => v.param), marker: { color: "#2563eb" } }],
    { title: { text: "parameter importance (shares of 1)" }, margin: { l: 120, r: 20, t: 36, b: 40 }, xaxis: { rangemode: "tozero", title: { text: "share" } } });
  return `Method: ${imp.method}; over ${imp.trials} finished trials. ${imp.missing.length ? `Not rated (one value only): ${imp.missing.join(", ")}.` : ""}`;
}

function axisLayout(axis) {
  return { title: { text: axis.name }, type: axis.log ? "log" : axis.type === "categorical" ? "category" : "linear" };
}

// The contour's two parameters: the two most important until the user picks others (kept
// per study while the page lives); another pair is fetched from .../contour/X/Y.
const contourPick = { key: null, pair: null };

function contourControls(data, key, redraw) {
  const names = data.parameters.map((p) => p.name);
  if (contourPick.key !== key) Object.assign(contourPick, { key, pair: data.contour ? [data.contour.x.name, data.contour.y.name] : names.slice(0, 2) });
  const picker = (id, index) => {
    const select = el("select", { id, onchange: (e) => { contourPick.pair[index] = e.target.value; redraw(); } },
      names.map((n) => el("option", { value: n }, n)));
    select.value = contourPick.pair[index];
    return select;
  };
  return el("div", { class: "filters" }, el("label", {}, "contour of ", picker("contour-x", 0)), el("label", {}, " × ", picker("contour-y", 1)));
}

async function contourFor(data, key) {
  const [x, y] = contourPick.pair;
  if (data.contour && data.contour.x.name === x && data.contour.y.name === y) return data.contour;
  if (x === y) return null;
  return (await api(apiPath(key, "contour", x, y))).body;
}

function drawContour(div, c, goal, key) {
  if (!c) { message(div, "a contour needs two different parameters that a few finished trials both have"); return ""; }
  // Interpolating between cells is honest only where most cells hold trials; else each
  // cell is drawn alone (a heatmap), and empty cells stay empty.
  const sparse = c.filled < 0.5 * c.x.centers.length * c.y.centers.length;
  const categorical = sparse || c.x.type === "categorical" || c.y.type === "categorical";
  const [zmin, zmax] = c.zrange || [undefined, undefined];
  plot(div, [
    { type: categorical ? "heatmap" : "contour", x: c.x.centers, y: c.y.centers, z: c.z, zmin, zmax, zauto: !c.zrange, connectgaps: !categorical, colorscale: "Viridis", reversescale: goal === "minimize", hovertemplate: "%{x}, %{y}: mean %{z}<extra></extra>", contours: categorical ? undefined : { coloring: "heatmap" } },
    { type: "scatter", mode: "markers", x: c.points.x, y: c.points.y, customdata: c.points.trial, meta: "guide", marker: { size: 4, color: "#fff", line: { color: "#111", width: 1 } }, hovertemplate: "%{customdata}<extra></extra>", showlegend: false },
  ], { title: { text: `mean objective over ${c.x.name} × ${c.y.name}` }, xaxis: axisLayout(c.x), yaxis: axisLayout(c.y) }, key);
  const clipped = c.clipped ? ` ${c.clipped} trial(s) outside the robust range (3 IQR past the quartiles) count as its edge in the means; the colour scale is that range.` : " The colour scale is the robust range of the objective.";
  return `Mean objective per cell of a ${c.x.centers.length}×${c.y.centers.length} grid over ${c.trials} trials (${c.filled} cells hold trials${sparse ? "; too few to interpolate between them" : ""}); dots are trials.${clipped}`;
}

// Several objectives: every succeeded trial by the first two, feasible apart from infeasible,
// and the front (non-dominated over all objectives) as a step line.
function drawPareto(div, data, key) {
  const p = data.pareto;
  if (!p) { message(div, "one objective: no front"); return ""; }
  const dot = (g, name, colour, symbol) => ({ type: "scatter", mode: "markers", name, x: g.x, y: g.y, customdata: g.trial,
    hovertemplate: "%{customdata}: %{x}, %{y}<extra>" + name + "</extra>", marker: { color: colour, symbol, size: 6 } });
  const traces = [dot(p.points.feasible, "feasible", "#93c5fd", "circle"), dot(p.points.infeasible, "infeasible", "#dc2626", "x-thin-open")];
  traces.push({ type: "scatter", mode: "lines+markers", name: `front (${p.front.trial.length})`, x: p.front.x, y: p.front.y, customdata: p.front.trial,
    line: { shape: "hv", color: "#16a34a" }, marker: { color: "#16a34a", size: 9, symbol: "star" },
    hovertemplate: "front %{customdata}: %{x}, %{y}<extra></extra>" });
  plot(div, traces, { title: { text: `Pareto front: ${p.x.metric} × ${p.y.metric}` },
    xaxis: { title: { text: `${p.x.metric} (${p.x.goal})` } }, yaxis: { title: { text: `${p.y.metric} (${p.y.goal})` } } }, key);
  return p.objectives > 2 ? `The front is judged on all ${p.objectives} objectives; this plot shows the first two.` : "";
}

// Population-based training: each member's line (the objective against the line's steps),
// and the exploits: a dashed link from the checkpoint a member copied to where it went on.
function drawLineage(div, data, key) {
  const l = data.lineage;
  if (!l) { message(div, "not a pbt study"); return ""; }
  const traces = l.members.map((m) => ({ type: "scatter", mode: "lines+markers", name: `member ${m.member}`, x: m.x, y: m.y,
    customdata: m.trial, connectgaps: false, marker: { size: 4 },
    hovertemplate: `member ${m.member}, %{customdata}: step %{x}, %{y}<extra></extra>` }));
  const j = l.jumps;
  traces.push({ type: "scatter", mode: "lines+markers", name: "exploit", x: j.x, y: j.y, customdata: j.trial.map((t, i) => [t, j.parent[i], j.changes[i]]),
    line: { dash: "dot", color: "#6b7280" }, marker: { symbol: "triangle-up", size: 8, color: "#6b7280" },
    hovertemplate: "%{customdata[0]} continued %{customdata[1]}'s checkpoint (%{customdata[2]})<extra></extra>" });
  plot(div, traces, { title: { text: `Lineage: ${l.metric} by member` }, xaxis: { title: { text: "step of the line" } },
    yaxis: { title: { text: l.metric } } }, key);
  const exploits = j.trial.filter((t, i) => t !== null && i % 3 === 0).length;
  const hidden = l.population - l.members.length;
  return `${l.population} members, ${l.segments} segments, ${exploits} exploits` + (hidden > 0 ? `; the best ${l.members.length} members drawn` : "") + ".";
}

// One slice at a time, of the parameter the user picks (the most important one at first).
const slicePick = { key: null, name: null };

function drawSlices(container, data, key, lazy) {
  const names = data.slices.map((s) => s.name);
  if (slicePick.key !== key || !names.includes(slicePick.name)) {
    const ranked = data.importance.values.map((v) => v.param).filter((n) => names.includes(n));
    Object.assign(slicePick, { key, name: ranked[0] || names[0] });
  }
  let select = document.getElementById("slice-param");
  let div = document.getElementById("plot-slice");
  let note = document.getElementById("note-slice");
  if (!select) {
    select = el("select", { id: "slice-param" }, names.map((n) => el("option", { value: n }, n)));
    div = el("div", { class: "plot", id: "plot-slice" });
    note = el("p", { class: "note", id: "note-slice" });
    container.replaceChildren(el("div", { class: "filters" }, el("label", {}, "parameter ", select)), div, note);
  }
  select.value = slicePick.name;
  const s = data.slices.find((x) => x.name === slicePick.name);
  const draw = () => {
    if (!s) { message(div, "no parameter"); return; }
    plot(div, [{ type: "scatter", mode: "markers", x: s.x, y: s.y, customdata: s.trial,
      text: s.value.map((v, i) => (v !== s.y[i] ? `${fmt(v)} (off the chart)` : fmt(v))),
      marker: { size: 6, color: s.order, colorscale: "Blues", showscale: false, line: { width: 0.5, color: "#1e3a8a" } },
      hovertemplate: "%{customdata}: %{x} → %{text}<extra></extra>" }],
    { title: { text: `${data.summary.metric} against ${s.name}` }, xaxis: axisLayout(s), yaxis: { title: { text: data.summary.metric }, range: s.yrange }, showlegend: false }, key);
    const sampled = s.x.length < s.trials ? `${s.x.length} of ${s.trials} trials drawn (the best third and an even sample). ` : `${s.x.length} trials. `;
    note.textContent = sampled + (s.clipped ? `${s.clipped} trial(s) lie outside the y-range (robust: 3 IQR past the quartiles) and are drawn on its edge; hover for their value.` : "");
  };
  select.onchange = (e) => { slicePick.name = e.target.value; drawSlices(container, data, key, (d, f) => f()); };
  lazy(div, draw);
}

// Plots are drawn when they come near the viewport (and redrawn there on live updates): a
// plot in or near the window is drawn at once, the others when they scroll into view (a
// Plotly plot costs 0.1-1 s on a slow machine, so a page of twenty draws only what is seen).
// A plot that is off screen when its data changes is redrawn when it comes back.
const MARGIN = 200;

function lazyDrawer() {
  const pending = new Map();
  const asked = [];
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const draw = entry.isIntersecting && pending.get(entry.target);
      if (draw) { pending.delete(entry.target); observer.unobserve(entry.target); draw(); }
    }
    if (!pending.size) mark("kubetune:plots");
  }, { rootMargin: `${MARGIN}px` });
  const lazy = (div, draw) => { asked.push([div, draw]); };
  // Where every asked-for plot is, read in one layout before any is drawn (reading it
  // between drawings would lay the page out again after each).
  lazy.done = () => {
    const boxes = asked.map(([div]) => div.getBoundingClientRect());
    const now = asked.filter((_, i) => boxes[i].bottom >= -MARGIN && boxes[i].top <= window.innerHeight + MARGIN);
    for (const [div, draw] of asked) {
      if (now.some(([d]) => d === div)) { pending.delete(div); observer.unobserve(div); }
      else { pending.set(div, draw); observer.observe(div); }
    }
    asked.length = 0;
    for (const [, draw] of now) draw();
    mark("kubetune:visible");
    if (!pending.size) mark("kubetune:plots");
  };
  lazy.now = (div, draw) => { pending.delete(div); observer.unobserve(div); draw(); };
  lazy.stop = () => observer.disconnect();
  return lazy;
}

function spendingTable(spend) {
  return el("table", { id: "spending" }, el("tr", {}, el("th", {}, "trials by state"), spend.states.map((s) => el("th", {}, s))),
    el("tr", {}, el("td", {}, "trials"), spend.trials.map((v) => el("td", { class: "num" }, v))),
    el("tr", {}, el("td", {}, "steps reported"), spend.steps.map((v) => el("td", { class: "num" }, v))),
    el("tr", {}, el("td", {}, "trial-seconds"), spend.seconds.map((v) => el("td", { class: "num" }, fmt(v)))));
}

const tableState = { key: null, sort: "index", desc: false, text: "", state: "", page: 0 };

function drawTrials(container, key, rows, parameters, goal) {
  if (tableState.key !== key) Object.assign(tableState, { key, sort: "index", desc: false, text: "", state: "", page: 0 });
  const states = [...new Set(rows.map((r) => r.state))].sort();
  const columns = [["name", "trial"], ["state", "state"], ["objective", "objective"], ...parameters.map((p) => [`param:${p.name}`, p.name]), ["lastStep", "steps"], ["seconds", "seconds"], ["reason", "reason"]];
  const value = (row, col) => (col.startsWith("param:") ? row.params[col.slice(6)] : col === "name" ? row.index : row[col]);
  const table = el("table", { id: "trials" });
  const count = el("span", { id: "trial-count", class: "muted" });
  const pager = el("div", { class: "pager" });
  function draw() {
    const text = tableState.text.toLowerCase();
    let shown = rows.filter((r) => (!tableState.state || r.state === tableState.state)
      && (!text || `${r.name} ${r.state} ${r.reason || ""} ${JSON.stringify(r.params)}`.toLowerCase().includes(text)));
    const dir = tableState.desc ? -1 : 1;
    shown = shown.slice().sort((a, b) => {
      const x = value(a, tableState.sort), y = value(b, tableState.sort);
      if (x === y) return a.index - b.index;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    tableState.page = Math.min(tableState.page, pages - 1);
    const start = tableState.page * PAGE;
    const head = el("tr", {}, columns.map(([col, label]) => el("th", {
      class: `sortable${tableState.sort === col ? (tableState.desc ? " sorted-desc" : " sorted-asc") : ""}`, "data-col": col,
      onclick: () => { if (tableState.sort === col) tableState.desc = !tableState.desc; else Object.assign(tableState, { sort: col, desc: col === "objective" && goal === "maximize" }); draw(); },
    }, label)));
    table.replaceChildren(head, ...shown.slice(start, start + PAGE).map((r) => el("tr", { "data-trial": r.name, "data-state": r.state },
      el("td", {}, el("a", { href: trialHref(key, r.name) }, r.name)), el("td", {}, phase(r.state)), el("td", { class: "num" }, fmt(r.objective)),
      parameters.map((p) => el("td", { class: "num" }, fmt(r.params[p.name]))), el("td", { class: "num" }, fmt(r.lastStep)), el("td", { class: "num" }, fmt(r.seconds)),
      el("td", { class: "reason" }, r.reason || ""))));
    count.textContent = `${shown.length} of ${rows.length} trials` + (shown.length > PAGE ? `, ${start + 1}–${Math.min(start + PAGE, shown.length)} shown` : "");
    pager.replaceChildren(el("button", { id: "page-prev", disabled: tableState.page === 0 ? "" : null, onclick: () => { tableState.page--; draw(); } }, "‹ previous"),
      el("span", {}, `page ${tableState.page + 1} of ${pages}`),
      el("button", { id: "page-next", disabled: tableState.page >= pages - 1 ? "" : null, onclick: () => { tableState.page++; draw(); } }, "next ›"));
  }
  const stateSelect = el("select", { id: "trial-state", onchange: (e) => { tableState.state = e.target.value; tableState.page = 0; draw(); } },
    el("option", { value: "" }, "every state"), states.map((s) => el("option", { value: s }, s)));
  const search = el("input", { id: "trial-filter", placeholder: "filter: name, state, reason, params", value: tableState.text, oninput: (e) => { tableState.text = e.target.value; tableState.page = 0; draw(); } });
  container.replaceChildren(el("div", { class: "filters" }, el("h2", {}, "Trials"), search, stateSelect, count, exportLinks(key)), table, pager);
  stateSelect.value = tableState.state;
  draw();
}

function exportLinks(key) {
  const link = (format) => {
    const path = `${apiPath(key, "trials")}?format=${format}`;
    if (!REPORT) return el("a", { class: "button", id: `export-${format}`, href: path, download: "" }, format.toUpperCase());
    const blob = new Blob([REPORT.responses[path]], { type: format === "csv" ? "text/csv" : "application/json" });
    return el("a", { class: "button", id: `export-${format}`, href: URL.createObjectURL(blob), download: `${key.replace(/[^\w.-]/g, "_")}.${format}` }, format.toUpperCase());
  };
  return el("span", {}, "export ", link("csv"), " ", link("json"));
}

function studyHeader(data) {
  const s = data.summary;
  const best = s.best;
  return el("div", { class: "card", id: "study-header" },
    el("h1", {}, s.name, " ", phase(s.phase)),
    el("div", { class: "header-grid" },
      el("span", { class: "muted" }, "where"), el("span", {}, s.namespace ? `namespace ${s.namespace}` : `local: ${s.source}`),
      el("span", { class: "muted" }, s.objectives.length > 1 ? "objectives" : "objective"), el("span", {}, s.objectives.map((o) => `${o.goal} ${o.metric}`).join(", ")
        + s.constraints.map((c) => `; ${c.metric}${c.min != null ? ` ≥ ${c.min}` : ""}${c.max != null ? ` ≤ ${c.max}` : ""}`).join("")),
      el("span", { class: "muted" }, "search"), el("span", {}, `${s.algorithm}, early stopping: ${s.earlyStopping}`),
      el("span", { class: "muted" }, "progress"), el("span", {}, `${s.progress || "–"} · ${Object.entries(data.states).map(([k, v]) => `${v} ${k}`).join(", ")}`),
      el("span", { class: "muted" }, s.finishedBecause ? "finished because" : "status"), el("span", { id: "finished-because" }, [s.finishedBecause, s.message].filter(Boolean).join(": ") || "–"),
      el("span", { class: "muted" }, s.objectives.length > 1 ? "front" : "best trial"), s.objectives.length > 1
        ? el("span", { id: "front" }, s.front.length ? `${s.front.length} trials: ` : "none yet", ...s.front.slice(0, 12).flatMap((t, i) => [i ? ", " : "", el("a", { href: trialHref(s.key, t) }, t)]), s.front.length > 12 ? " …" : "")
        : best
        ? el("span", { id: "best-trial" }, el("a", { href: trialHref(s.key, best.trial) }, best.trial), ` ${s.metric} = ${fmt(best.objective)} · `,
          Object.entries(best.params).map(([k, v]) => `${k}=${fmt(v)}`).join(", "))
        : el("span", { id: "best-trial" }, "none yet")));
}

async function renderStudy(app, key) {
  document.getElementById("where").textContent = key;
  // Both asked for at once; the header and plots are drawn as soon as theirs arrives, the
  // table (10,000 rows are 2.7 MB) when it does.
  const asked = api(apiPath(key, "trials"));
  asked.catch(() => {});  // its failure is reported where it is awaited, below
  let study = await api(apiPath(key));
  let trials = null;
  const header = el("div");
  const sections = {};
  const contourBar = el("div", { id: "contour-controls" });
  let contourDraw = () => {};  // the contour with the newest data and the picked pair
  let contourAsked = 0;  // picks so far: an answer to an older one is not drawn
  const card = (id, cls) => { const div = el("div", { class: `plot ${cls || ""}`, id: `plot-${id}` }); const note = el("p", { class: "note", id: `note-${id}` }); sections[id] = [div, note]; return el("div", { class: "card" }, id === "contour" ? contourBar : null, div, note); };
  const slices = el("div", { class: "slices", id: "slices" });
  const spend = el("div");
  const table = el("div", { class: "card", id: "trial-table" });
  app.replaceChildren(el("p", {}, el("a", { href: "#/" }, "← every study")), header,
    el("div", { class: "grid" }, ...(study.body.pareto ? [card("pareto")] : []), ...(study.body.lineage ? [card("lineage")] : []), card("objective"), card("curves"), card("parallel"), card("importance"), card("contour"),
      el("div", { class: "card" }, el("h2", {}, "Where the budget went"), spend)),
    el("div", { class: "card" }, el("h2", {}, "Slice: the objective against one parameter (darker: later trials)"), slices), table);
  function draw() {
    const d = study.body;
    // The header and the table first (a trial that ended shows there at once), then the
    // plots in the window, as sketches until Plotly has drawn them.
    header.replaceChildren(studyHeader(d));
    if (trials) drawTable();
    drawPlots(d);
  }
  const lazy = lazyDrawer();
  stopLazy = lazy.stop;
  function drawPlots(d) {
    const goal = d.summary.goal;
    const section = (id, drawer) => lazy(sections[id][0], () => { sections[id][1].textContent = drawer(sections[id][0]); });
    if (sections.pareto) section("pareto", (div) => drawPareto(div, d, key));
    if (sections.lineage) section("lineage", (div) => drawLineage(div, d, key));
    section("objective", (div) => drawObjective(div, d, key));
    section("curves", (div) => drawCurves(div, d, key));
    section("parallel", (div) => drawParallel(div, d, goal, key));
    section("importance", (div) => drawImportance(div, d));
    lazy(sections.contour[0], () => {
      const [div, note] = sections.contour;
      contourDraw = async () => {
        // Two picks in a row fetch two pairs, whose answers may come back in either order:
        // only the latest pick's answer is drawn.
        const mine = ++contourAsked;
        try {
          const contour = await contourFor(d, key);
          if (mine === contourAsked) note.textContent = drawContour(div, contour, goal, key);
        } catch (error) { if (mine === contourAsked) note.textContent = `cannot draw that pair: ${error.message}`; }
      };
      if (!contourBar.firstChild) contourBar.append(contourControls(d, key, () => contourDraw()));
      contourDraw();
    });
    drawSlices(slices, d, key, lazy);
    spend.replaceChildren(spendingTable(d.spending));
    document.body.dataset.revision = study.etag || "report";
    lazy.done();
  }
  function drawTable() {
    drawTrials(table, key, trials.body, study.body.parameters, study.body.summary.goal);
    mark("kubetune:table");
  }
  table.append(el("p", { class: "muted" }, "loading the trials…"));
  draw();
  const mine = generation;
  trials = await asked;
  if (mine !== generation) return;  // the reader went elsewhere meanwhile
  drawTable();
  poll(async () => {
    const next = await api(apiPath(key), study.etag);
    if (next.status === 304) return;
    trials = await api(apiPath(key, "trials"));
    study = next;
    draw();
  });
}

// ----- one trial ---------------------------------------------------------------------------

async function renderTrial(app, key, name) {
  document.getElementById("where").textContent = `${key} / ${name}`;
  const t = (await api(apiPath(key, "trials", name))).body;
  const div = el("div", { class: "plot", id: "plot-series" });
  const logs = el("pre", { class: "logs", id: "logs" }, REPORT ? "Logs are not kept in a report." : "loading…");
  const stop = t.stop
    ? el("div", { class: "card", id: "stop-record" }, el("h2", {}, "Stopped early"), el("div", { class: "header-grid" },
      el("span", { class: "muted" }, "rule"), el("span", {}, t.stop.rule), el("span", { class: "muted" }, "at step"), el("span", {}, t.stop.step),
      el("span", { class: "muted" }, "value"), el("span", {}, fmt(t.stop.value)), el("span", { class: "muted" }, "threshold"), el("span", {}, fmt(t.stop.threshold)),
      el("span", { class: "muted" }, "why"), el("span", {}, t.stop.reason)))
    : null;
  app.replaceChildren(el("p", {}, el("a", { href: studyHref(key) }, `← ${key}`)),
    el("div", { class: "card" }, el("h1", {}, name, " ", phase(t.state)), el("div", { class: "header-grid" },
      el("span", { class: "muted" }, t.metric), el("span", { id: "trial-objective" }, fmt(t.objective)),
      el("span", { class: "muted" }, "reason"), el("span", {}, t.reason || "–"),
      el("span", { class: "muted" }, "steps"), el("span", {}, `${t.reports} reports, last step ${fmt(t.lastStep)}`),
      el("span", { class: "muted" }, "ran"), el("span", {}, t.seconds === null ? "–" : `${fmt(t.seconds)} s`),
      t.pod ? [el("span", { class: "muted" }, "pod"), el("span", {}, t.pod)] : [])),
    el("div", { class: "grid" }, el("div", { class: "card" }, el("h2", {}, "Parameters"), el("table", { id: "params" },
      Object.entries(t.params).map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { class: "num" }, fmt(v)))))),
    stop || el("div", { class: "card" }, el("h2", {}, "Early stopping"), el("p", { class: "muted" }, "not stopped early"))),
    el("div", { class: "card" }, div),
    el("div", { class: "card" }, el("h2", {}, "Events"), el("table", { id: "events" }, el("tr", {}, ["time", "type", "reason", "object", "message"].map((h) => el("th", {}, h))),
      (t.events || []).map((e) => el("tr", {}, el("td", {}, typeof e.time === "number" ? new Date(e.time * 1000).toISOString().replace(".000", "") : e.time || ""),
        el("td", {}, e.type || ""), el("td", {}, e.reason || ""), el("td", {}, e.object || ""), el("td", { class: "reason" }, e.message || ""))))),
    el("div", { class: "card" }, el("h2", {}, "Logs"), logs));
  // A metric reported once is one point: its value is written beside it, and the axes are
  // put around it (Plotly would centre a lone point on an arbitrary -1..1 range).
  const single = (s) => s.y.length === 1;
  const traces = Object.entries(t.series).map(([metric, s]) => ({ type: "scatter", mode: single(s) ? "markers+text" : "lines+markers", name: metric, x: s.x, y: s.y,
    text: single(s) ? [`${metric} ${fmt(s.y[0])}`] : undefined, textposition: "top center",
    yaxis: metric === t.metric ? "y" : "y2", line: { width: metric === t.metric ? 2.5 : 1 }, marker: { size: single(s) ? 10 : 6 } }));
  const around = (values) => {
    const finite = values.filter((v) => typeof v === "number" && Number.isFinite(v));
    if (!finite.length) return undefined;
    const lo = Math.min(...finite), hi = Math.max(...finite);
    const pad = hi > lo ? (hi - lo) * 0.15 : Math.abs(hi) * 0.1 || 1;
    return [lo - pad, hi + pad];
  };
  const own = t.series[t.metric] || { x: [], y: [] };
  const steps = Object.values(t.series).flatMap((s) => s.x).concat(t.stop ? [t.stop.step] : []);
  const xrange = around(steps);
  if (t.stop) {
    const [x0, x1] = xrange || [t.stop.step - 1, t.stop.step + 1];
    if (Number.isFinite(t.stop.threshold)) traces.push({ type: "scatter", mode: "lines", name: `threshold ${fmt(t.stop.threshold)} (${t.stop.rule})`, x: [x0, x1], y: [t.stop.threshold, t.stop.threshold], meta: "guide",
      line: { color: "#ea580c", dash: "dash", width: 1.5 }, hovertemplate: `${t.stop.rule} threshold at step ${t.stop.step}: ${fmt(t.stop.threshold)}<extra></extra>` });
    traces.push({ type: "scatter", mode: "markers", name: `stopped at step ${t.stop.step}`, x: [t.stop.step], y: [t.stop.value], meta: "guide", marker: { symbol: "x", size: 12, color: "#ea580c" } });
  }
  const yrange = around(own.y.concat(t.stop ? [t.stop.value, t.stop.threshold] : []));
  const reports = Object.values(t.series).reduce((n, s) => n + s.y.length, 0);
  plot(div, traces, { title: { text: "reported metrics" }, xaxis: { title: { text: "step" }, range: xrange }, yaxis: { title: { text: t.metric }, range: yrange }, yaxis2: { overlaying: "y", side: "right", showgrid: false } },
    undefined, reports);
  if (!REPORT) {
    try { logs.textContent = (await api(`${apiPath(key, "trials", name)}/logs`)).body || "(empty)"; }
    catch (error) { logs.textContent = error.message; }
  }
}

// ----- routing -----------------------------------------------------------------------------

async function route() {
  generation++;
  clearTimeout(timer);
  stopLazy();
  const app = document.getElementById("app");
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "compare") {
      if (parts.length < 3) throw new Error("tick two studies or more in the list to compare them");
      await renderCompare(app, parts.slice(1));
    } else if (parts[0] === "study" && parts[2] === "trial") await renderTrial(app, parts[1], parts[3]);
    else if (parts[0] === "study") await renderStudy(app, parts[1]);
    else if (REPORT && REPORT.study) location.hash = studyHref(REPORT.study);
    else await renderList(app);
  } catch (error) {
    app.replaceChildren(el("div", { class: "error" }, error.message), el("a", { href: "#/" }, "every study"));
  }
  document.body.dataset.page = parts[0] === "study" ? (parts[2] ? "trial" : "study") : parts[0] === "compare" ? "compare" : "list";
}

window.addEventListener("hashchange", route);
route();
