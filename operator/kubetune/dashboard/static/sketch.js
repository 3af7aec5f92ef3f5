// A plot's first drawing, in plain SVG, from the very traces and layout that Plotly is given.
// Why: in a fresh browser Plotly takes 1.5 s to load and ~0.1-0.3 s a plot to draw on a slow
// machine, so a page waiting for it shows its plots seconds late. A sketch costs a few
// milliseconds; Plotly replaces it, with hover, zoom and pan, as soon as it is ready.
// It draws the subset of Plotly the page uses: scatter (markers, lines, "hv" steps, gaps
// at null), heatmap and contour (as cells), horizontal bars, line shapes, annotations, and
// linear, log and category axes. Markers with a trial in `customdata` link to the trial.
"use strict";

(function () {
  const VIRIDIS = ["#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725"];
  const BLUES = ["#f7fbff", "#08306b"];

  function esc(text) {
    return String(text).replace(/<[^>]*>/g, "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  }

  function hex(colour) {
    const m = /^#([0-9a-f]{6})$/i.exec(colour);
    const n = m ? parseInt(m[1], 16) : 0;
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }

  // A colour scale as stops [[0, "#..."], ..., [1, "#..."]] (or the names the page uses).
  function scale(spec, reverse, raw) {
    let stops = spec === "Viridis" ? VIRIDIS.map((c, i) => [i / 5, c]) : spec === "Blues" ? BLUES.map((c, i) => [i, c]) : spec;
    if (!Array.isArray(stops) || !stops.length) stops = BLUES.map((c, i) => [i, c]);
    if (reverse) stops = stops.map(([t, c]) => [1 - t, c]).reverse();
    return (t) => {
      t = Math.min(1, Math.max(0, t));
      let k = 1;
      while (k < stops.length - 1 && stops[k][0] < t) k++;
      const [t0, c0] = stops[k - 1] || stops[0], [t1, c1] = stops[k] || stops[0];
      const f = t1 > t0 ? (t - t0) / (t1 - t0) : 0;
      const a = hex(c0), b = hex(c1);
      const rgb = a.map((v, i) => Math.round(v + (b[i] - v) * f));
      return raw ? rgb : `rgb(${rgb.join(",")})`;
    };
  }

  // A 32-bit BMP (BITMAPV4HEADER, so that empty cells are transparent) as a data: URL, a
  // pixel per cell of `rows` (rows[j][i]: [r, g, b] or null), row 0 at the bottom as in
  // Plotly's z unless flipped.
  function bitmap(rows, flipX, flipY) {
    const h = rows.length, w = rows[0].length;
    const bytes = new Uint8Array(14 + 108 + 4 * w * h);
    const view = new DataView(bytes.buffer);
    bytes[0] = 66; bytes[1] = 77;  // "BM"
    view.setUint32(2, bytes.length, true);
    view.setUint32(10, 14 + 108, true);
    const info = [[14, 108], [18, w], [22, h], [30, 3], [34, 4 * w * h],  // size, w, h, bitfields
      [54, 0x00ff0000], [58, 0x0000ff00], [62, 0x000000ff], [66, 0xff000000], [70, 0x73524742]];  // masks, sRGB
    for (const [at, value] of info) view.setUint32(at, value >>> 0, true);
    view.setUint16(26, 1, true); view.setUint16(28, 32, true);
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) {
      const c = rows[flipY ? h - 1 - j : j][flipX ? w - 1 - i : i];
      if (!c) continue;
      const at = 122 + 4 * (j * w + i);  // BMP rows run bottom-up, as z's do
      bytes[at] = c[2]; bytes[at + 1] = c[1]; bytes[at + 2] = c[0]; bytes[at + 3] = 255;
    }
    let text = "";
    for (let k = 0; k < bytes.length; k += 8192) text += String.fromCharCode.apply(null, bytes.subarray(k, k + 8192));
    return `data:image/bmp;base64,${btoa(text)}`;
  }

  function finite(v) { return typeof v === "number" && Number.isFinite(v); }

  // One axis: its kind, the categories it has met, and a map from data to pixels.
  function axis(spec, values, from, to) {
    spec = spec || {};
    const categories = [];
    const kind = spec.type === "log" ? "log" : spec.type === "category" || values.some((v) => typeof v === "string") ? "category" : "linear";
    if (kind === "category") for (const v of values) if (v !== null && v !== undefined && !categories.includes(String(v))) categories.push(String(v));
    const raw = (v) => (kind === "category" ? categories.indexOf(String(v)) : kind === "log" ? (v > 0 ? Math.log10(v) : NaN) : v);
    let [lo, hi] = spec.range ? spec.range.slice() : [Infinity, -Infinity];
    if (!spec.range) {
      for (const v of values) { const r = raw(v); if (finite(r)) { lo = Math.min(lo, r); hi = Math.max(hi, r); } }
      if (!finite(lo)) [lo, hi] = [0, 1];
      const pad = kind === "category" ? 0.5 : (hi - lo || Math.abs(hi) || 1) * 0.05;
      lo -= pad; hi += pad;
    }
    if (hi === lo) { lo -= 0.5; hi += 0.5; }
    const px = (v) => { const r = raw(v); return finite(r) ? from + ((r - lo) / (hi - lo)) * (to - from) : NaN; };
    return { kind, categories, lo, hi, px, raw, visible: spec.visible !== false, title: spec.title && spec.title.text };
  }

  function ticks(ax) {
    if (ax.kind === "category") {
      const every = Math.ceil(ax.categories.length / 12);
      return ax.categories.filter((_, i) => i % every === 0).map((c) => [c, c]);
    }
    const span = ax.hi - ax.lo;
    let step = Math.pow(10, Math.floor(Math.log10(span / 5)));
    if (span / step > 10) step *= span / step > 20 ? 5 : 2;
    if (ax.kind === "log") step = Math.max(1, Math.round(step));
    const out = [];
    for (let k = Math.ceil(ax.lo / step); k * step <= ax.hi + 1e-9 * span; k++) {
      const t = +(k * step).toPrecision(12);
      const value = ax.kind === "log" ? Math.pow(10, t) : t;
      const text = ax.kind === "log" ? (Math.abs(t) < 4 ? String(+value.toPrecision(3)) : `1e${Math.round(t)}`) : String(+t.toPrecision(6));
      out.push([value, text]);
    }
    return out;
  }

  function markerPath(symbol, x, y, r) {
    if (symbol.startsWith("x")) return `M${x - r},${y - r}L${x + r},${y + r}M${x - r},${y + r}L${x + r},${y - r}`;
    if (symbol.startsWith("line-ew")) return `M${x - r},${y}L${x + r},${y}`;
    if (symbol.startsWith("diamond")) return `M${x},${y - r}L${x + r},${y}L${x},${y + r}L${x - r},${y}Z`;
    if (symbol.startsWith("square")) return `M${x - r},${y - r}h${2 * r}v${2 * r}h${-2 * r}Z`;
    return `M${x - r},${y}a${r},${r} 0 1,0 ${2 * r},0a${r},${r} 0 1,0 ${-2 * r},0`;
  }

  // The cells of a heatmap or contour: edges halfway between the centres.
  function cells(centers, ax) {
    const px = centers.map((c) => ax.px(c));
    return px.map((p, i) => {
      const left = i > 0 ? (p + px[i - 1]) / 2 : p - ((px[1] ?? p + 10) - p) / 2;
      const right = i < px.length - 1 ? (p + px[i + 1]) / 2 : p + (p - (px[i - 1] ?? p - 10)) / 2;
      return [Math.min(left, right), Math.abs(right - left)];
    });
  }

  function draw(div, traces, layout) {
    const width = Math.max(200, div.clientWidth || 600);
    const height = Math.max(160, div.clientHeight || 360);
    const m = Object.assign({ l: 60, r: 20, t: 36, b: 46 }, layout.margin || {});
    const [x0, x1, y0, y1] = [m.l, width - m.r, height - m.b, m.t];
    const onY2 = (t) => t.yaxis === "y2";
    const values = (pick, which) => traces.filter(which).flatMap((t) => {
      if (t.type === "bar" && t.orientation === "h") return pick === "x" ? [0, ...t.x] : t.y;
      const v = t[pick] || [];
      return Array.isArray(v[0]) ? v.flat() : v;
    });
    const xa = axis(layout.xaxis, values("x", () => true), x0, x1);
    const ya = axis(layout.yaxis, values("y", (t) => !onY2(t)), y0, y1);
    const y2 = traces.some(onY2) ? axis(layout.yaxis2, values("y", onY2), y0, y1) : null;
    const out = [`<svg xmlns="http://www.w3.org/2000/svg" class="sketch" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11">`];
    const title = layout.title && layout.title.text;
    if (title) out.push(`<text x="${width / 2}" y="${Math.min(22, m.t - 8)}" text-anchor="middle" font-size="15" fill="#1d2330">${esc(title)}</text>`);
    if (xa.visible) {
      for (const [v, text] of ticks(xa)) {
        const x = xa.px(v);
        out.push(`<line x1="${x}" x2="${x}" y1="${y1}" y2="${y0}" stroke="#eef0f3"/><text x="${x}" y="${y0 + 15}" text-anchor="middle" fill="#6b7280">${esc(text)}</text>`);
      }
      if (xa.title) out.push(`<text x="${(x0 + x1) / 2}" y="${y0 + 32}" text-anchor="middle" fill="#374151">${esc(xa.title)}</text>`);
    }
    for (const [ax, side] of [[ya, "left"], [y2, "right"]]) {
      if (!ax || !ax.visible) continue;
      for (const [v, text] of ticks(ax)) {
        const y = ax.px(v);
        if (side === "left") out.push(`<line x1="${x0}" x2="${x1}" y1="${y}" y2="${y}" stroke="#eef0f3"/>`);
        out.push(`<text x="${side === "left" ? x0 - 5 : x1 + 5}" y="${y + 4}" text-anchor="${side === "left" ? "end" : "start"}" fill="#6b7280">${esc(text)}</text>`);
      }
      if (ax.title && side === "left") out.push(`<text transform="translate(14 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle" fill="#374151">${esc(ax.title)}</text>`);
    }
    out.push(`<svg x="${x0}" y="${y1}" width="${x1 - x0}" height="${y0 - y1}" viewBox="${x0} ${y1} ${x1 - x0} ${y0 - y1}" overflow="hidden">`);
    let points = 0;
    for (const t of traces) {
      const yax = onY2(t) ? y2 : ya;
      const opacity = t.opacity ?? 1;
      if (t.type === "heatmap" || t.type === "contour") {
        const colour = scale(t.colorscale, t.reversescale);
        const rawColour = scale(t.colorscale, t.reversescale, true);
        const z = t.z.flat().filter(finite);
        const [lo, hi] = finite(t.zmin) && finite(t.zmax) ? [t.zmin, t.zmax] : [Math.min(...z), Math.max(...z)];
        const cx = cells(t.x, xa), cy = cells(t.y, yax);
        const uniform = (c) => c.every(([, w]) => Math.abs(w - c[0][1]) < 1);
        if (uniform(cx) && uniform(cy)) {
          // One image of a pixel a cell, stretched: thousands of cells as SVG elements would
          // cost more than the rest of the sketch (a canvas costs more still to start).
          const rgba = t.z.map((row) => row.map((v) => {
            if (!finite(v)) return null;
            points++;
            return rawColour(hi > lo ? (v - lo) / (hi - lo) : 0.5);
          }));
          const left = Math.min(...cx.map(([a]) => a)), top = Math.min(...cy.map(([a]) => a));
          const flipX = cx.length > 1 && cx[1][0] < cx[0][0], flipY = cy.length > 1 && cy[1][0] > cy[0][0];
          out.push(`<image x="${left}" y="${top}" width="${cx[0][1] * cx.length}" height="${cy[0][1] * cy.length}" preserveAspectRatio="none" style="image-rendering: pixelated" href="${bitmap(rgba, flipX, flipY)}" pointer-events="none"/>`);
        } else {
          t.z.forEach((row, j) => row.forEach((v, i) => {
            if (!finite(v) || !cx[i] || !cy[j]) return;
            points++;
            out.push(`<rect x="${cx[i][0]}" y="${cy[j][0]}" width="${cx[i][1] + 0.5}" height="${cy[j][1] + 0.5}" fill="${colour(hi > lo ? (v - lo) / (hi - lo) : 0.5)}" pointer-events="none"/>`);
          }));
        }
        continue;
      }
      if (t.type === "bar") {
        const colour = (t.marker && t.marker.color) || "#2563eb";
        t.y.forEach((name, i) => {
          const y = yax.px(name), band = Math.abs(yax.px(0) - yax.px(1)) * 0.7 || 20;
          const a = xa.px(0), b = xa.px(t.x[i]);
          points++;
          out.push(`<rect x="${Math.min(a, b)}" y="${y - band / 2}" width="${Math.abs(b - a)}" height="${band}" fill="${colour}"/>`);
        });
        continue;
      }
      const mode = t.mode || "markers";
      const line = t.line || {};
      let vertices = 0, markers = 0;
      if (mode.includes("lines")) {
        let d = "", up = true, last = null;
        t.x.forEach((xv, i) => {
          const x = xa.px(xv), y = yax.px(t.y[i]);
          if (!finite(x) || !finite(y)) { up = true; return; }
          if (up) d += `M${x.toFixed(1)},${y.toFixed(1)}`;
          else if (line.shape === "hv") d += `H${x.toFixed(1)}V${y.toFixed(1)}`;
          else d += `L${x.toFixed(1)},${y.toFixed(1)}`;
          up = false; last = y; vertices++;
        });
        if (d && last !== null) out.push(`<path d="${d}" fill="none" stroke="${line.color || "#2563eb"}" stroke-width="${line.width ?? 2}"${line.dash && line.dash !== "solid" ? ' stroke-dasharray="2,3"' : ""} opacity="${opacity}" pointer-events="none"/>`);
      }
      if (mode.includes("markers")) {
        const mk = t.marker || {};
        const symbol = mk.symbol || "circle";
        const open = symbol.endsWith("-open") || symbol.startsWith("x") || symbol.startsWith("line");
        const r = (mk.size ?? 6) / 2;
        const colours = Array.isArray(mk.color) ? mk.color : null;
        const ramp = colours ? scale(mk.colorscale || "Blues", mk.reversescale) : null;
        const [clo, chi] = colours ? [Math.min(...colours), Math.max(...colours)] : [0, 1];
        const stroke = mk.line && mk.line.color;
        t.x.forEach((xv, i) => {
          const x = xa.px(xv), y = yax.px(t.y[i]);
          if (!finite(x) || !finite(y)) return;
          const colour = colours ? ramp(chi > clo ? (colours[i] - clo) / (chi - clo) : 1) : mk.color || "#2563eb";
          const trial = t.customdata && typeof t.customdata[i] === "string" ? ` data-trial="${esc(t.customdata[i])}"` : "";
          const paint = open ? `fill="none" stroke="${colour}" stroke-width="1.5" pointer-events="all"` : `fill="${colour}"${stroke ? ` stroke="${stroke}" stroke-width="${mk.line.width ?? 1}"` : ""}`;
          out.push(`<path d="${markerPath(symbol, +x.toFixed(1), +y.toFixed(1), r)}" ${paint} opacity="${opacity}"${trial}/>`);
          markers++;
        });
      }
      if (t.meta !== "guide") points += mode.includes("markers") ? markers : vertices;
    }
    for (const s of layout.shapes || []) {
      if (s.type === "line") out.push(`<line x1="${xa.px(s.x0)}" x2="${xa.px(s.x1)}" y1="${ya.px(s.y0)}" y2="${ya.px(s.y1)}" stroke="${(s.line && s.line.color) || "#9ca3af"}"/>`);
    }
    out.push("</svg>");
    for (const a of layout.annotations || []) {
      const anchor = a.xanchor === "right" ? "end" : a.xanchor === "left" ? "start" : "middle";
      const top = a.yref === "paper" ? y0 + (y1 - y0) * a.y : ya.px(a.y);
      const y = top - (a.yanchor === "bottom" ? 4 + (a.yshift || 0) : -4);
      out.push(`<text x="${xa.px(a.x) + (a.xshift || 0)}" y="${y}" text-anchor="${anchor}" fill="${(a.font && a.font.color) || "#1d2330"}"${/<b>/.test(a.text) ? ' font-weight="600"' : ""}>${esc(a.text)}</text>`);
    }
    out.push("</svg>");
    div.innerHTML = out.join("");
    return points;
  }

  window.kubetuneSketch = draw;
})();
