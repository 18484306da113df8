/* pictures.js: draws a run of the course's lab runtime, a space-time diagram and a dashboard.
 *
 * No library, no network: this one file is inlined into each standalone page (or shared by all
 * the pages of a site or a feedback bundle, as pictures.js beside them) and is the front end of
 * the JupyterLab widget. Python (labs/pictures/build.py) has already decided what everything
 * means; this file only lays it out and draws it, on canvas so that 20,000 events stay smooth.
 *
 *   DSPictures.render(element, payload, {onSelect}) -> a picture object (see `api` below)
 *   DSPictures.renderAll()  draws every <script type="application/vnd.ds-picture"> on the page
 *
 * The root element carries data-arrows (message arrows under the current filters), data-drops,
 * data-visible (arrows inside the current time window) and data-ready="1" once drawn.
 */
(function (global) {
  "use strict";
  const VERSION = "1";
  if (global.DSPictures && global.DSPictures.version === VERSION) return;

  // Message types take these colors in turn; red is kept for drops and crashes.
  const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
    "#9c755f", "#17becf", "#1b9e77", "#7570b3", "#a6761d", "#666666"];
  const COL = {
    drop: "#d62728", crash: "rgba(214,39,40,0.14)", pause: "rgba(237,180,40,0.30)",
    part: "rgba(148,103,189,0.10)", ok: "#59a14f", fail: "#f28e2b", info: "#9e9e9e",
    pending: "#c7c7c7", reorder: "#ff7f0e", grid: "#ececec", text: "#333", lane: "#c4c4c4",
    mark: "#555", window: "rgba(78,121,167,0.18)",
  };
  const GROUPS = ["rgba(148,103,189,0.16)", "rgba(23,190,207,0.16)", "rgba(188,189,34,0.18)",
    "rgba(255,127,14,0.14)"];
  const OUTCOME_TEXT = ["delivered", "dropped: lost by the network", "dropped: partition",
    "dropped: the receiver had crashed", "never arrived"];
  const GUTTER = 58, AXIS = 26, LANE_H = 34, CLIENT_H = 30, TRACK_H = 18, LEVEL_H = 30, TITLE_H = 18;

  const CSS = `
.dsp{font:13px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fff;
  border:1px solid #ddd;border-radius:6px;padding:10px 12px;position:relative;max-width:100%;box-sizing:border-box}
.dsp *{box-sizing:border-box}
.dsp h2{font-size:16px;margin:0 0 2px}
.dsp .dsp-sub{color:#555;font-size:12px;margin-bottom:4px}
.dsp code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;background:#f4f4f4;padding:1px 4px;border-radius:3px}
.dsp .dsp-bar{display:flex;flex-wrap:wrap;gap:4px 6px;align-items:center;margin:4px 0}
.dsp .dsp-bar b{font-weight:600;margin-right:2px;font-size:12px}
.dsp button{font:inherit;font-size:12px;border:1px solid #ccc;background:#fafafa;border-radius:12px;padding:1px 8px;cursor:pointer;color:#222}
.dsp button.off{opacity:.4;text-decoration:line-through}
.dsp button:hover{border-color:#888}
.dsp button i{display:inline-block;width:9px;height:9px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.dsp .dsp-key{font-size:12px;color:#444;margin-right:10px;white-space:nowrap}
.dsp .dsp-hint{font-size:11px;color:#777}
.dsp .dsp-canvas{position:relative;user-select:none;touch-action:none}
.dsp canvas{display:block;width:100%}
.dsp .dsp-main{cursor:grab}
.dsp .dsp-main.drag{cursor:grabbing}
.dsp .dsp-tip{position:absolute;pointer-events:none;background:rgba(255,255,255,.97);border:1px solid #bbb;border-radius:4px;
  box-shadow:0 2px 8px rgba(0,0,0,.15);padding:5px 7px;font-size:12px;max-width:460px;z-index:5;display:none;white-space:normal}
.dsp pre{margin:3px 0 0;font:11px/1.3 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all;max-height:260px;overflow:auto}
.dsp .dsp-pin{border:1px solid #ddd;border-left:3px solid #4e79a7;background:#fbfbfb;padding:4px 8px;margin:4px 0;font-size:12px;display:none}
.dsp .dsp-dash{display:flex;flex-wrap:wrap;gap:10px;margin-top:10px}
.dsp .dsp-card{border:1px solid #e3e3e3;border-radius:5px;padding:6px 8px;min-width:0;flex:1 1 300px}
.dsp .dsp-card h3{font-size:13px;margin:0 0 4px}
.dsp .dsp-card.dsp-2{flex:2 1 420px}
.dsp .dsp-wide{flex-basis:100%}
.dsp table{border-collapse:collapse;font-size:12px;width:100%}
.dsp td,.dsp th{padding:1px 6px;text-align:right;border-bottom:1px solid #f0f0f0;white-space:nowrap}
.dsp th:first-child,.dsp td:first-child{text-align:left}
.dsp .dsp-tablewrap{overflow-x:auto}
.dsp .dsp-big{font-size:18px;font-weight:600}
.dsp .dsp-pcts{display:flex;flex-wrap:wrap;gap:4px 18px}
.dsp .dsp-k{color:#666;font-size:11px}
`;

  function injectStyle() {
    if (!global.document || document.getElementById("dsp-style")) return;
    const style = document.createElement("style");
    style.id = "dsp-style";
    style.textContent = CSS;
    document.head.appendChild(style);
  }

  // -- helpers --------------------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v);
    }
    for (const c of children) if (c != null) el.append(c);
    return el;
  }
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const fmtInt = (n) => Number(n).toLocaleString("en-US");

  function fmtDur(s) {
    if (s == null || !isFinite(s)) return "–";
    const a = Math.abs(s);
    if (a >= 1) return s.toFixed(a >= 100 ? 0 : 2) + " s";
    if (a >= 0.001) return (s * 1000).toFixed(a >= 0.01 ? 0 : 1).replace(/\.0$/, "") + " ms";
    return (s * 1e6).toFixed(0) + " µs";
  }
  const fmtT = (t) => t.toFixed(6).replace(/0{1,3}$/, "") + " s";

  function niceStep(span, n) {
    const raw = span / Math.max(1, n), p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }
  function tickLabel(t, step) {
    const digits = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
    return step < 0.001 ? (t * 1000).toFixed(Math.max(0, digits - 3)) + "ms" : t.toFixed(digits) + "s";
  }
  function color(c) { return typeof c === "number" ? PALETTE[((c % PALETTE.length) + PALETTE.length) % PALETTE.length] : c; }
  // Text on a filled bar: white on dark colors, dark on light ones (a view may tint its bars).
  function textOn(c) {
    const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color(c));
    if (!m) return "#fff";
    const [r, g, b] = m.slice(1).map((x) => parseInt(x, 16));
    return 0.299 * r + 0.587 * g + 0.114 * b > 160 ? "#222" : "#fff";
  }
  // The last index i of the sorted array ts with ts[i] <= t (-1 if none).
  function atOrBefore(ts, t) {
    let lo = 0, hi = ts.length - 1, found = -1;
    while (lo <= hi) { const mid = (lo + hi) >> 1; if (ts[mid] <= t) { found = mid; lo = mid + 1; } else hi = mid - 1; }
    return found;
  }

  function setupCanvas(canvas, width, height) {
    const dpr = global.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(width * dpr));
    canvas.height = Math.max(1, Math.round(height * dpr));
    canvas.style.height = height + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    return ctx;
  }

  // -- payload -> arrays ----------------------------------------------------------------------

  function decode(p) {
    const u = p.unit, m = p.m, n = m.s.length;
    const S = new Float64Array(n), E = new Float64Array(n);
    let acc = 0;
    for (let i = 0; i < n; i++) { acc += m.s[i]; S[i] = acc * u; E[i] = S[i] + m.d[i] * u; }
    const tt = (x) => x * u;
    return {
      p, n, S, E, A: Int32Array.from(m.a), B: Int32Array.from(m.b), K: Int32Array.from(m.k),
      F: Int32Array.from(m.f), Y: Int32Array.from(m.y), ID: m.i,
      dur: Math.max(tt(p.duration), 1e-6),
      lanes: p.lanes, clients: new Set(p.clients), types: p.types,
      spans: p.spans.map(([lane, a, b, kind, label]) => ({ lane, t0: tt(a), t1: tt(b), kind, label })),
      parts: p.parts.map(([a, b, groups, label]) => ({ t0: tt(a), t1: tt(b), groups, label })),
      ops: p.ops.map(([lane, a, b, outcome, label]) => ({ lane, t0: tt(a), t1: tt(b), outcome, label })),
      marks: p.marks.map(([t, kind, label, lane]) => ({ t: tt(t), kind, label, lane })),
      views: p.views.map((v) => {
        const tracks = v.tracks.map((tr) => {
          const lv = tr.lv || [];
          return {
            label: tr.label,
            segs: tr.segs.map(([a, b, label, c]) => ({ t0: tt(a), t1: tt(b), label, c })),
            pts: tr.pts.map(([t, label, c]) => ({ t: tt(t), label, c })),
            // levels column by column: times (for a binary search), values (null: no value), labels
            lvT: Float64Array.from(lv, (x) => tt(x[0])), lvV: lv.map((x) => x[1]), lvL: lv.map((x) => x[2]),
          };
        });
        return { name: v.name, title: v.title, tracks, levels: tracks.some((tr) => tr.lvT.length) };
      }),
    };
  }

  // -- the picture ----------------------------------------------------------------------------

  function render(el, payload, options) {
    injectStyle();
    const opts = options || {};
    const d = decode(payload);
    const L = d.lanes.length, T = d.types.length;
    const st = {
      t0: 0, t1: d.dur, laneOn: d.lanes.map(() => true), typeOn: d.types.map(() => true),
      ops: true, anomalies: false, hover: null, pinned: null, width: 0,
    };
    const typeCount = new Array(T).fill(0);
    for (let i = 0; i < d.n; i++) if (!(d.F[i] & 8)) typeCount[d.K[i]]++;  // sends, as in the table

    // DOM
    const root = h("div", { class: "dsp" });
    const meta = payload.meta || {}, c = payload.counts || {};
    const sub = [d.lanes.length + " lanes", fmtInt(meta.events || 0) + " trace events", fmtDur(d.dur) + " of run"];
    if (meta.network) sub.push("network: " + meta.network);
    root.append(h("h2", {}, payload.title || "a run"));
    root.append(h("div", { class: "dsp-sub" }, sub.join(" · ") + (meta.description ? " — " + meta.description : "")));
    if (meta.replay) root.append(h("div", { class: "dsp-sub" }, "replay: ", h("code", {}, meta.replay)));
    const keys = h("div", { class: "dsp-bar" });
    const key = (sw, text) => keys.append(h("span", { class: "dsp-key" }, sw, " " + text));
    const sw = (style) => h("span", { style: "display:inline-block;width:16px;height:10px;vertical-align:-1px;" + style });
    key(sw("border-top:2px solid #4e79a7;height:0"), fmtInt(c.arrows || 0) + " message arrows");
    key(h("b", { style: "color:" + COL.drop }, "×"), fmtInt(c.drops || 0) + " dropped");
    key(sw("border-top:2px dashed #4e79a7;height:0"), fmtInt(c.duplicates || 0) + " duplicate copies");
    key(h("b", { style: "color:" + COL.reorder }, "○"), fmtInt(c.reordered || 0) + " arrived out of order");
    if (c.lost) key(h("b", { style: "color:#777" }, "◌"), fmtInt(c.lost) + " never arrived");
    key(sw("background:" + COL.crash + ";border:1px solid " + COL.drop), "crashed");
    key(sw("background:" + COL.pause), "paused");
    key(sw("background:" + GROUPS[0]), "partition");
    key(sw("background:" + COL.ok + ";height:6px"), "operation (ok / " );
    keys.lastChild.append(h("span", { style: "color:" + COL.fail }, "fail"), " / ", h("span", { style: "color:#888" }, "unknown"), ")");
    root.append(keys);

    const laneBar = h("div", { class: "dsp-bar" }, h("b", {}, "nodes"));
    const laneButtons = d.lanes.map((name, i) => {
      const b = h("button", { title: "show or hide " + name + " (Alt-click: only " + name + ")" }, name);
      b.addEventListener("click", (ev) => { toggle(st.laneOn, i, ev.altKey); });
      laneBar.append(b);
      return b;
    });
    const typeBar = h("div", { class: "dsp-bar" }, h("b", {}, "messages"));
    const typeButtons = d.types.map((name, i) => {
      const b = h("button", { title: "show or hide " + name + " (Alt-click: only " + name + ")" },
        h("i", { style: "background:" + PALETTE[i % PALETTE.length] }), name + " " + fmtInt(typeCount[i]));
      b.addEventListener("click", (ev) => { toggle(st.typeOn, i, ev.altKey); });
      typeBar.append(b);
      return b;
    });
    const opsButton = h("button", { title: "client operations as bars on the client lanes" }, "operations");
    opsButton.addEventListener("click", () => { st.ops = !st.ops; refresh(); });
    const anomButton = h("button", { class: "off", title: "only dropped, duplicated, out-of-order and lost messages" }, "only anomalies");
    anomButton.addEventListener("click", () => { st.anomalies = !st.anomalies; refresh(); });
    typeBar.append(opsButton, anomButton);
    const zoomBar = h("div", { class: "dsp-bar" },
      h("button", { onclick: () => zoom(1 / 1.6), title: "zoom in" }, "+"),
      h("button", { onclick: () => zoom(1.6), title: "zoom out" }, "−"),
      h("button", { onclick: () => setWindow(0, d.dur), title: "show the whole run" }, "whole run"),
      h("span", { class: "dsp-hint dsp-window" }, ""),
      h("span", { class: "dsp-hint" }, " · drag to pan · Ctrl+wheel or double-click to zoom · brush the strip below the diagram to pick a window · click an arrow to keep its message"));
    const windowText = zoomBar.querySelector(".dsp-window");
    root.append(laneBar, typeBar, zoomBar);
    const pin = h("div", { class: "dsp-pin" });  // below the strip: showing it moves no arrow

    const mainWrap = h("div", { class: "dsp-canvas" });
    const canvas = h("canvas", { class: "dsp-main" });
    const tip = h("div", { class: "dsp-tip" });
    mainWrap.append(canvas, tip);
    const overview = h("canvas", { class: "dsp-over", title: "drag to choose a time window" });
    const overWrap = h("div", { class: "dsp-canvas" }, overview);
    root.append(mainWrap, overWrap, pin);
    const dash = dashboard(d, payload.dash || {});
    root.append(dash.el);
    el.append(root);

    function toggle(arr, i, only) {
      if (only) arr.fill(false), (arr[i] = true);
      else arr[i] = !arr[i];
      if (!arr.some(Boolean)) arr.fill(true);
      refresh();
    }

    // layout: rows of lanes, then the per-lab views' tracks
    let rows = [], laneY = new Float64Array(L), height = 0;
    function layout() {
      rows = [];
      let y = AXIS;
      laneY.fill(-1);
      for (let i = 0; i < L; i++) {
        if (!st.laneOn[i]) continue;
        const hgt = d.clients.has(i) ? CLIENT_H : LANE_H;
        rows.push({ kind: "lane", lane: i, y, h: hgt });
        laneY[i] = y + hgt / 2 + (d.clients.has(i) ? 3 : 0);
        y += hgt;
      }
      for (const v of d.views) {
        y += 6;
        rows.push({ kind: "title", text: v.title, y, h: TITLE_H });
        y += TITLE_H;
        for (const tr of v.tracks) {
          const hgt = tr.lvT.length ? LEVEL_H : TRACK_H;
          rows.push({ kind: "track", track: tr, view: v, y, h: hgt });
          y += hgt;
        }
      }
      height = y + 6;
    }

    const X = (t) => GUTTER + (t - st.t0) * (st.width - GUTTER - 8) / (st.t1 - st.t0);
    const tAt = (x) => st.t0 + (x - GUTTER) * (st.t1 - st.t0) / (st.width - GUTTER - 8);

    function shown(i) {
      if (!st.typeOn[d.K[i]] || laneY[d.A[i]] < 0 || laneY[d.B[i]] < 0) return false;
      return !st.anomalies || (d.F[i] & 7) !== 0 || (d.F[i] & 24) !== 0;
    }

    // screen coordinates of the arrows drawn last, for hovering
    let vis = new Int32Array(0), vx1, vy1, vx2, vy2, nvis = 0;
    let hits = [];  // rectangles of spans, operations, marks and view items, for hovering

    function draw() {
      const w = mainWrap.clientWidth;
      if (!w) return;
      st.width = w;
      layout();
      const ctx = setupCanvas(canvas, w, height);
      hits = [];
      const x0 = GUTTER, x1 = w - 8, plotH = height;
      const clipX = (x) => Math.max(x0, Math.min(x1, x));
      // partitions: a band over the lanes, each group's lanes tinted its own color
      const lanesBottom = rows.filter((r) => r.kind === "lane").reduce((a, r) => Math.max(a, r.y + r.h), AXIS);
      for (const p of d.parts) {
        if (p.t1 < st.t0 || p.t0 > st.t1) continue;
        const a = clipX(X(p.t0)), b = clipX(X(p.t1));
        ctx.fillStyle = COL.part;
        ctx.fillRect(a, AXIS, Math.max(2, b - a), lanesBottom - AXIS);
        p.groups.forEach((g, gi) => {
          ctx.fillStyle = GROUPS[gi % GROUPS.length];
          for (const lane of g) {
            const r = rows.find((r) => r.lane === lane);
            if (r) ctx.fillRect(a, r.y + 2, Math.max(2, b - a), r.h - 4);
          }
        });
        hits.push({ x0: a, x1: Math.max(a + 2, b), y0: AXIS, y1: AXIS + 12, text: esc(p.label) + "<br>" + fmtT(p.t0) + " → " + fmtT(p.t1) });
        ctx.fillStyle = "#6a4c93";
        ctx.font = "11px system-ui,sans-serif";
        if (b - a > 60) ctx.fillText(fitText(ctx, p.label, b - a - 6), a + 3, AXIS + 10);
      }
      // lanes, down and paused spans
      ctx.font = "12px system-ui,sans-serif";
      for (const r of rows) {
        if (r.kind !== "lane") continue;
        const y = laneY[r.lane], client = d.clients.has(r.lane);
        if (client) { ctx.fillStyle = "#fafafa"; ctx.fillRect(0, r.y, w, r.h); }
        ctx.strokeStyle = COL.lane; ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(x0, y); ctx.lineTo(x1, y); ctx.stroke();
        ctx.fillStyle = COL.text;
        ctx.font = (client ? "italic " : "bold ") + "12px system-ui,sans-serif";
        ctx.fillText(d.lanes[r.lane], 8, y + 4);
      }
      for (const s of d.spans) {
        const y = laneY[s.lane];
        if (y < 0 || s.t1 < st.t0 || s.t0 > st.t1) continue;
        const a = clipX(X(s.t0)), b = Math.max(a + 2, clipX(X(s.t1)));
        const r = rows.find((r) => r.lane === s.lane);
        ctx.fillStyle = s.kind === "crash" ? COL.crash : COL.pause;
        ctx.fillRect(a, r.y + 3, b - a, r.h - 6);
        if (s.kind === "crash") {
          ctx.strokeStyle = COL.drop; ctx.lineWidth = 2;
          ctx.beginPath(); ctx.moveTo(a, r.y + 3); ctx.lineTo(a, r.y + r.h - 3); ctx.stroke();
        }
        if (b - a > 50) {
          ctx.fillStyle = s.kind === "crash" ? "#a31515" : "#8a6100";
          ctx.font = "11px system-ui,sans-serif";
          ctx.fillText(fitText(ctx, s.label, b - a - 8), a + 4, r.y + r.h - 6);
        }
        hits.push({ x0: a - 2, x1: b, y0: r.y + 3, y1: r.y + r.h - 3, text: "<b>" + esc(d.lanes[s.lane]) + "</b> " + esc(s.label) + "<br>" + fmtT(s.t0) + " → " + fmtT(s.t1) + " (" + fmtDur(s.t1 - s.t0) + ")" });
      }
      // client operations
      if (st.ops) {
        ctx.font = "10px system-ui,sans-serif";
        for (const o of d.ops) {
          const y = laneY[o.lane];
          if (y < 0 || o.t1 < st.t0 || o.t0 > st.t1) continue;
          const a = clipX(X(o.t0)), b = Math.max(a + 1.5, clipX(X(o.t1)));
          ctx.fillStyle = COL[o.outcome] || COL.info;
          ctx.fillRect(a, y - 12, b - a, 6);
          if (b - a > 44) { ctx.fillStyle = "#333"; ctx.fillText(fitText(ctx, o.label, b - a - 2), a + 1, y - 14); }
          hits.push({ x0: a, x1: b, y0: y - 14, y1: y - 5, text: "<b>" + esc(d.lanes[o.lane]) + "</b> " + esc(o.label) + "<br>" + fmtT(o.t0) + " → " + fmtT(o.t1) + " (" + fmtDur(o.t1 - o.t0) + ", " + esc(o.outcome) + ")" });
        }
      }
      drawMessages(ctx, w);
      // marks: network changes, heals, skips, skews
      ctx.font = "10px system-ui,sans-serif";
      for (const m of d.marks) {
        if (m.t < st.t0 || m.t > st.t1) continue;
        const x = X(m.t);
        const y0 = m.lane >= 0 ? laneY[m.lane] - 14 : AXIS, y1 = m.lane >= 0 ? laneY[m.lane] + 14 : lanesBottom;
        if (m.lane >= 0 && laneY[m.lane] < 0) continue;
        if (m.kind === "violation") {  // the step of a search's path that broke an invariant
          ctx.strokeStyle = COL.drop; ctx.lineWidth = 2;
          ctx.beginPath(); ctx.moveTo(x, y0); ctx.lineTo(x, y1); ctx.stroke(); ctx.lineWidth = 1;
          ctx.fillStyle = COL.drop; ctx.font = "bold 11px system-ui,sans-serif";
          const text = fitText(ctx, "✕ " + m.label, Math.max(60, x - 4));
          ctx.fillText(text, Math.max(2, x - 4 - ctx.measureText(text).width), y0 + 11);
          ctx.font = "10px system-ui,sans-serif";
          hits.push({ x0: x - 4, x1: x + 4, y0, y1, text: esc(m.label) + "<br>at " + fmtT(m.t) });
          continue;
        }
        ctx.strokeStyle = m.kind === "skip" ? COL.reorder : COL.mark; ctx.lineWidth = 1;
        ctx.setLineDash([3, 3]); ctx.beginPath(); ctx.moveTo(x, y0); ctx.lineTo(x, y1); ctx.stroke(); ctx.setLineDash([]);
        hits.push({ x0: x - 3, x1: x + 3, y0, y1, text: esc(m.label) + "<br>at " + fmtT(m.t) });
      }
      drawViews(ctx, w);
      drawAxis(ctx, w, plotH);
      drawOverview();
      dash.window(st.t0, st.t1);
      windowText.textContent = "window " + fmtT(st.t0) + " → " + fmtT(st.t1) + " (" + fmtDur(st.t1 - st.t0) + ")";
      root.dataset.ready = "1";
    }

    function fitText(ctx, text, width) {
      if (ctx.measureText(text).width <= width) return text;
      let lo = 0, hi = text.length;
      while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (ctx.measureText(text.slice(0, mid) + "…").width <= width) lo = mid; else hi = mid - 1; }
      return lo > 0 ? text.slice(0, lo) + "…" : "";
    }

    function drawMessages(ctx, w) {
      if (vis.length < d.n) { vis = new Int32Array(d.n); vx1 = new Float32Array(d.n); vy1 = new Float32Array(d.n); vx2 = new Float32Array(d.n); vy2 = new Float32Array(d.n); }
      nvis = 0;
      let total = 0, drops = 0;
      for (let i = 0; i < d.n; i++) {
        if (!shown(i)) continue;
        total++;
        if ((d.F[i] & 7) >= 1 && (d.F[i] & 7) <= 3) drops++;
        if (d.E[i] < st.t0 || d.S[i] > st.t1) continue;
        const ya = laneY[d.A[i]], yb = laneY[d.B[i]];
        vis[nvis] = i; vx1[nvis] = X(d.S[i]); vy1[nvis] = ya; vx2[nvis] = X(d.E[i]);
        vy2[nvis] = d.F[i] & 32 ? (ya === yb ? ya - 10 : ya + (yb - ya) / 2) : yb;
        nvis++;
      }
      root.dataset.arrows = String(total);
      root.dataset.drops = String(drops);
      root.dataset.visible = String(nvis);
      const alpha = nvis > 4000 ? 0.3 : nvis > 1500 ? 0.5 : nvis > 400 ? 0.75 : 0.95;
      const heads = nvis < 2500;
      const solid = d.types.map(() => new Path2D()), dashed = d.types.map(() => new Path2D()), tips = d.types.map(() => new Path2D());
      const xs = new Path2D(), rings = new Path2D(), lost = new Path2D();
      for (let j = 0; j < nvis; j++) {
        const i = vis[j], f = d.F[i], k = d.K[i];
        const ax = vx1[j], ay = vy1[j], bx = vx2[j], by = vy2[j];
        const path = f & 8 ? dashed[k] : solid[k];
        path.moveTo(ax, ay);
        if (d.A[i] === d.B[i] && !(f & 32)) path.quadraticCurveTo((ax + bx) / 2, ay - 16, bx, by);
        else path.lineTo(bx, by);
        const outcome = f & 7;
        if (outcome >= 1 && outcome <= 3) { xs.moveTo(bx - 4, by - 4); xs.lineTo(bx + 4, by + 4); xs.moveTo(bx + 4, by - 4); xs.lineTo(bx - 4, by + 4); }
        else if (outcome === 4) { lost.moveTo(bx + 3, by); lost.arc(bx, by, 3, 0, 2 * Math.PI); }
        else if (heads) arrowHead(tips[k], ax, ay, bx, by, d.A[i] === d.B[i]);
        if (f & 16) { rings.moveTo(bx + 4.5, by); rings.arc(bx, by, 4.5, 0, 2 * Math.PI); }
      }
      ctx.lineWidth = 1.2;
      ctx.globalAlpha = alpha;
      for (let k = 0; k < T; k++) {
        ctx.strokeStyle = ctx.fillStyle = PALETTE[k % PALETTE.length];
        ctx.stroke(solid[k]);
        ctx.setLineDash([4, 3]); ctx.stroke(dashed[k]); ctx.setLineDash([]);
        ctx.fill(tips[k]);
      }
      ctx.globalAlpha = 1;
      ctx.lineWidth = 1.6; ctx.strokeStyle = COL.drop; ctx.stroke(xs);
      ctx.lineWidth = 1.3; ctx.strokeStyle = COL.reorder; ctx.stroke(rings);
      ctx.strokeStyle = "#777"; ctx.stroke(lost);
      for (const sel of [st.pinned, st.hover]) {
        if (sel == null || !shown(sel)) continue;
        const ax = X(d.S[sel]), ay = laneY[d.A[sel]], bx = X(d.E[sel]);
        const by = d.F[sel] & 32 ? (ay === laneY[d.B[sel]] ? ay - 10 : ay + (laneY[d.B[sel]] - ay) / 2) : laneY[d.B[sel]];
        ctx.strokeStyle = "#111"; ctx.lineWidth = 2.6;
        ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(bx, by); ctx.stroke();
        ctx.beginPath(); ctx.arc(ax, ay, 3, 0, 2 * Math.PI); ctx.fillStyle = "#111"; ctx.fill();
      }
    }

    function arrowHead(path, ax, ay, bx, by, self) {
      const dx = bx - ax, dy = self ? 6 : by - ay, len = Math.hypot(dx, dy);
      if (len < 10) return;
      const ux = dx / len, uy = dy / len, s = 6;
      path.moveTo(bx, by);
      path.lineTo(bx - ux * s - uy * s * 0.45, by - uy * s + ux * s * 0.45);
      path.lineTo(bx - ux * s + uy * s * 0.45, by - uy * s - ux * s * 0.45);
      path.closePath();
    }

    function drawViews(ctx, w) {
      const x0 = GUTTER, x1 = w - 8;
      // The levels of a view are scaled to the values in the window, across its tracks: zoomed
      // in, a step of one is as tall as the track allows (the numbers say where it is).
      const ranges = new Map();
      for (const v of d.views) {
        if (!v.levels) continue;
        let lo = Infinity, hi = -Infinity;
        for (const tr of v.tracks) {
          for (let i = Math.max(0, atOrBefore(tr.lvT, st.t0)); i < tr.lvT.length && tr.lvT[i] <= st.t1; i++) {
            const x = tr.lvV[i];
            if (x != null) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
          }
        }
        ranges.set(v, lo <= hi ? [lo, hi] : [0, 0]);
      }
      for (const r of rows) {
        if (r.kind === "title") {
          ctx.fillStyle = "#444"; ctx.font = "bold 11px system-ui,sans-serif";
          ctx.fillText(r.text, 8, r.y + 13);
        } else if (r.kind === "track") {
          const tr = r.track, yc = r.y + r.h / 2;
          ctx.strokeStyle = COL.grid; ctx.beginPath(); ctx.moveTo(x0, yc); ctx.lineTo(x1, yc); ctx.stroke();
          ctx.fillStyle = COL.text; ctx.font = "11px system-ui,sans-serif";
          ctx.fillText(fitText(ctx, tr.label, GUTTER - 12), 8, yc + 4);
          for (const s of tr.segs) {
            if (s.t1 < st.t0 || s.t0 > st.t1) continue;
            const a = Math.max(x0, X(s.t0)), b = Math.max(a + 2, Math.min(x1, X(s.t1)));
            ctx.fillStyle = color(s.c);
            ctx.fillRect(a, r.y + 3, b - a, r.h - 6);
            if (b - a > 40) { ctx.fillStyle = textOn(s.c); ctx.font = "10px system-ui,sans-serif"; ctx.fillText(fitText(ctx, s.label, b - a - 4), a + 2, yc + 3.5); }
            hits.push({ x0: a, x1: b, y0: r.y + 3, y1: r.y + r.h - 3, text: "<b>" + esc(tr.label) + "</b> " + esc(s.label) + "<br>" + fmtT(s.t0) + " → " + fmtT(s.t1) });
          }
          for (const p of tr.pts) {
            if (p.t < st.t0 || p.t > st.t1) continue;
            const x = X(p.t);
            ctx.fillStyle = color(p.c);
            ctx.beginPath(); ctx.moveTo(x, yc - 5); ctx.lineTo(x + 4, yc); ctx.lineTo(x, yc + 5); ctx.lineTo(x - 4, yc); ctx.fill();
            hits.push({ x0: x - 4, x1: x + 4, y0: yc - 6, y1: yc + 6, text: esc(p.label) + "<br>at " + fmtT(p.t) });
          }
          if (tr.lvT.length) drawLevels(ctx, r, x0, x1, ranges.get(r.view));
        }
      }
    }

    // A track's levels: a step line over the track's height, scaled to ``range`` (the values of
    // its view in the window), with each value written beside its step where there is room.
    // Only the steps inside the window are visited, so a long run costs what is on screen.
    function drawLevels(ctx, r, x0, x1, range) {
      const tr = r.track, n = tr.lvT.length, top = r.y + 11, bottom = r.y + r.h - 3;
      const [lo, hi] = range, Y = (v) => hi > lo ? bottom - (v - lo) / (hi - lo) * (bottom - top) : (top + bottom) / 2;
      const first = Math.max(0, atOrBefore(tr.lvT, st.t0));
      const line = new Path2D(), area = new Path2D();
      let open = false, startX = 0, lastY = 0;
      const close = (x) => { if (open) { area.lineTo(x, bottom); area.lineTo(startX, bottom); area.closePath(); open = false; } };
      ctx.font = "9px system-ui,sans-serif";
      const texts = [];
      let textRight = -1e9;
      for (let i = first; i < n && tr.lvT[i] <= st.t1; i++) {
        const a = Math.max(x0, X(tr.lvT[i])), b = i + 1 < n ? Math.min(x1, X(tr.lvT[i + 1])) : x1, v = tr.lvV[i];
        if (v == null) { close(a); continue; }
        const y = Y(v);
        if (!open) { line.moveTo(a, y); area.moveTo(a, bottom); area.lineTo(a, y); open = true; startX = a; }
        else { line.lineTo(a, lastY); line.lineTo(a, y); area.lineTo(a, lastY); area.lineTo(a, y); }
        line.lineTo(b, y); area.lineTo(b, y);
        lastY = y;
        const text = String(v), tw = ctx.measureText(text).width;
        if (b - a > tw + 4 && a > textRight) { texts.push([text, a + 2, Math.max(r.y + 10, y - 2)]); textRight = a + tw + 4; }
        if (i + 1 >= n || tr.lvT[i + 1] > st.t1) close(b);
      }
      close(x1);
      ctx.fillStyle = "rgba(78,121,167,0.16)"; ctx.fill(area);
      ctx.strokeStyle = "#4e79a7"; ctx.lineWidth = 1.4; ctx.stroke(line); ctx.lineWidth = 1;
      ctx.fillStyle = "#1f3b57";
      for (const [text, tx, ty] of texts) ctx.fillText(text, tx, ty);
      hits.push({ x0, x1, y0: r.y + 2, y1: r.y + r.h - 2, textAt: (x) => levelText(tr, tAt(x)) });
    }

    function levelText(tr, t) {
      const i = atOrBefore(tr.lvT, t);
      if (i < 0 || tr.lvV[i] == null) return "<b>" + esc(tr.label) + "</b> no value at " + fmtT(t);
      const until = i + 1 < tr.lvT.length ? fmtT(tr.lvT[i + 1]) : "the end";
      return "<b>" + esc(tr.label) + "</b> " + esc(tr.lvL[i] || String(tr.lvV[i])) + "<br>" + fmtT(tr.lvT[i]) + " → " + until;
    }

    function drawAxis(ctx, w, plotH) {
      const step = niceStep(st.t1 - st.t0, Math.max(2, Math.floor((w - GUTTER) / 90)));
      ctx.font = "11px system-ui,sans-serif"; ctx.fillStyle = "#555"; ctx.lineWidth = 1;
      for (let t = Math.ceil(st.t0 / step) * step; t <= st.t1 + 1e-12; t += step) {
        const x = X(t);
        ctx.strokeStyle = COL.grid; ctx.beginPath(); ctx.moveTo(x, AXIS); ctx.lineTo(x, plotH); ctx.stroke();
        ctx.strokeStyle = "#999"; ctx.beginPath(); ctx.moveTo(x, AXIS - 5); ctx.lineTo(x, AXIS); ctx.stroke();
        const label = tickLabel(t, step), tw = ctx.measureText(label).width;
        ctx.fillText(label, Math.min(w - 8 - tw, Math.max(GUTTER - tw / 2, x - tw / 2)), AXIS - 9);
      }
      ctx.strokeStyle = "#999"; ctx.beginPath(); ctx.moveTo(GUTTER, AXIS); ctx.lineTo(w - 8, AXIS); ctx.stroke();
    }

    // the overview strip: message density over the whole run, faults, and the window as a brush
    const OVER_H = 44;
    let density = null;
    function drawOverview() {
      const w = st.width, ctx = setupCanvas(overview, w, OVER_H);
      const cols = Math.max(1, Math.floor(w - GUTTER - 8));
      if (!density || density.sent.length !== cols) {
        const sent = new Float64Array(cols), drop = new Float64Array(cols);
        for (let i = 0; i < d.n; i++) {
          const c = Math.min(cols - 1, Math.floor(d.S[i] / d.dur * cols));
          sent[c]++;
          if ((d.F[i] & 7) >= 1 && (d.F[i] & 7) <= 3) drop[c]++;
        }
        density = { sent, drop, max: Math.max(1, ...sent) };
      }
      const OX = (t) => GUTTER + t / d.dur * cols;
      ctx.fillStyle = "#fcfcfc"; ctx.fillRect(GUTTER, 0, cols, OVER_H);
      for (const p of d.parts) { ctx.fillStyle = GROUPS[0]; ctx.fillRect(OX(p.t0), 0, Math.max(2, OX(p.t1) - OX(p.t0)), OVER_H); }
      for (const s of d.spans) {
        if (d.clients.has(s.lane)) continue;
        ctx.fillStyle = s.kind === "crash" ? "rgba(214,39,40,0.35)" : "rgba(237,180,40,0.5)";
        ctx.fillRect(OX(s.t0), OVER_H - 6, Math.max(2, OX(s.t1) - OX(s.t0)), 5);
      }
      for (let c = 0; c < cols; c++) {
        const hs = density.sent[c] / density.max * (OVER_H - 10), hd = density.drop[c] / density.max * (OVER_H - 10);
        ctx.fillStyle = "#9bb3cf"; ctx.fillRect(GUTTER + c, OVER_H - 7 - hs, 1, hs);
        if (hd) { ctx.fillStyle = COL.drop; ctx.fillRect(GUTTER + c, OVER_H - 7 - hd, 1, hd); }
      }
      const a = OX(st.t0), b = OX(st.t1);
      ctx.fillStyle = "rgba(255,255,255,0.6)";
      ctx.fillRect(GUTTER, 0, a - GUTTER, OVER_H); ctx.fillRect(b, 0, GUTTER + cols - b, OVER_H);
      ctx.strokeStyle = "#4e79a7"; ctx.lineWidth = 1.5; ctx.strokeRect(a, 0.75, Math.max(2, b - a), OVER_H - 1.5);
      ctx.fillStyle = "#555"; ctx.font = "11px system-ui,sans-serif";
      ctx.fillText("whole run", 6, 14); ctx.fillText(fmtDur(d.dur), 6, 28);
    }

    // -- interaction --------------------------------------------------------------------------

    let pending = false;
    function refresh() {
      laneButtons.forEach((b, i) => b.classList.toggle("off", !st.laneOn[i]));
      typeButtons.forEach((b, i) => b.classList.toggle("off", !st.typeOn[i]));
      opsButton.classList.toggle("off", !st.ops);
      anomButton.classList.toggle("off", !st.anomalies);
      if (pending) return;
      pending = true;
      const go = () => { pending = false; draw(); };
      if (global.requestAnimationFrame && document.visibilityState !== "hidden") requestAnimationFrame(go); else setTimeout(go, 0);
    }

    function setWindow(t0, t1) {
      const min = Math.max(d.dur / 1e5, 1e-6);
      let w = Math.max(min, Math.min(d.dur, t1 - t0));
      t0 = Math.max(0, Math.min(d.dur - w, t0));
      st.t0 = t0; st.t1 = t0 + w;
      refresh();
    }
    function zoom(factor, at) {
      const c = at == null ? (st.t0 + st.t1) / 2 : at;
      setWindow(c - (c - st.t0) * factor, c + (st.t1 - c) * factor);
    }

    function localXY(ev, target) {
      const r = target.getBoundingClientRect();
      return [ev.clientX - r.left, ev.clientY - r.top];
    }

    function nearest(x, y) {
      let best = -1, bd = 36;  // within 6 px
      for (let j = 0; j < nvis; j++) {
        const ax = vx1[j], ay = vy1[j], bx = vx2[j], by = vy2[j];
        if (x < Math.min(ax, bx) - 6 || x > Math.max(ax, bx) + 6 || y < Math.min(ay, by) - 18 || y > Math.max(ay, by) + 6) continue;
        const dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
        const u = len2 ? Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / len2)) : 0;
        const ex = ax + u * dx - x, ey = ay + u * dy - y, dd = ex * ex + ey * ey;
        if (dd < bd) { bd = dd; best = vis[j]; }
      }
      return best;
    }

    function describe(i, full) {
      const f = d.F[i], outcome = f & 7;
      const lines = ["<b>" + esc(d.types[d.K[i]]) + "</b> " + esc(d.lanes[d.A[i]]) + " → " + esc(d.lanes[d.B[i]]) + " <span style='color:#888'>(message " + d.ID[i] + ")</span>"];
      let when = "sent " + fmtT(d.S[i]);
      if (outcome === 0) when += ", delivered " + fmtT(d.E[i]) + " (" + fmtDur(d.E[i] - d.S[i]) + ")";
      else if (outcome === 4) when += ": " + OUTCOME_TEXT[4] + " before the trace ended";
      else if (f & 32) when += ", " + OUTCOME_TEXT[outcome] + " (as it was sent)";
      else when += ", " + OUTCOME_TEXT[outcome] + " at " + fmtT(d.E[i]);
      lines.push(when);
      const notes = [];
      if (f & 8) notes.push("a duplicate copy made by the network");
      if (f & 16) notes.push("arrived out of order: a message sent later on this link arrived first");
      if (notes.length) lines.push("<i>" + notes.join("; ") + "</i>");
      let body = d.p.bodies[d.Y[i]];
      try { body = JSON.stringify(JSON.parse(body), null, 1); } catch (e) { /* truncated: show as is */ }
      if (!full && body.length > 900) body = body.slice(0, 900) + "\n… (click to see it all)";
      return lines.join("<br>") + "<pre>" + esc(body) + "</pre>";
    }

    function showTip(x, y, html) {
      if (!html) { tip.style.display = "none"; return; }
      tip.innerHTML = html;
      tip.style.display = "block";
      const w = mainWrap.clientWidth, tw = tip.offsetWidth;
      tip.style.left = Math.max(0, Math.min(w - tw - 2, x + 14)) + "px";
      tip.style.top = (y + 16) + "px";
    }

    function hoverAt(x, y) {
      const i = nearest(x, y);
      if (i >= 0) {
        if (st.hover !== i) { st.hover = i; refresh(); }
        showTip(x, y, describe(i, false));
        return;
      }
      if (st.hover != null) { st.hover = null; refresh(); }
      let hit = null;
      for (let k = hits.length - 1; k >= 0; k--) {
        const r = hits[k];
        if (x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1) { hit = r; break; }
      }
      const t = tAt(x);
      showTip(x, y, hit ? (hit.textAt ? hit.textAt(x) : hit.text) : (x > GUTTER && t >= st.t0 && t <= st.t1 ? "t = " + fmtT(t) : ""));
    }

    function select(i) {
      st.pinned = i;
      if (i == null) { pin.style.display = "none"; }
      else { pin.innerHTML = describe(i, true); pin.style.display = "block"; }
      root.dataset.selected = i == null ? "" : String(d.ID[i]);
      if (opts.onSelect) {
        opts.onSelect(i == null ? null : {
          id: d.ID[i], type: d.types[d.K[i]], src: d.lanes[d.A[i]], dst: d.lanes[d.B[i]],
          sent: d.S[i], end: d.E[i], outcome: d.p.outcomes[d.F[i] & 7], body: d.p.bodies[d.Y[i]],
        });
      }
      refresh();
    }

    let drag = null;
    canvas.addEventListener("pointerdown", (ev) => {
      const [x, y] = localXY(ev, canvas);
      drag = { x, y, t0: st.t0, t1: st.t1, moved: false };
      canvas.setPointerCapture && canvas.setPointerCapture(ev.pointerId);
    });
    canvas.addEventListener("pointermove", (ev) => {
      const [x, y] = localXY(ev, canvas);
      if (drag) {
        const dx = x - drag.x;
        if (Math.abs(dx) > 3) drag.moved = true;
        if (drag.moved) {
          canvas.classList.add("drag");
          const dt = -dx * (drag.t1 - drag.t0) / (st.width - GUTTER - 8);
          setWindow(drag.t0 + dt, drag.t1 + dt);
          tip.style.display = "none";
          return;
        }
      }
      hoverAt(x, y);
    });
    canvas.addEventListener("pointerup", (ev) => {
      const [x, y] = localXY(ev, canvas);
      if (drag && !drag.moved) { const i = nearest(x, y); select(i >= 0 ? i : null); }
      drag = null;
      canvas.classList.remove("drag");
    });
    canvas.addEventListener("pointerleave", () => { tip.style.display = "none"; if (st.hover != null) { st.hover = null; refresh(); } });
    canvas.addEventListener("dblclick", (ev) => { const [x] = localXY(ev, canvas); zoom(ev.shiftKey ? 2 : 0.5, tAt(x)); });
    canvas.addEventListener("wheel", (ev) => {
      const [x] = localXY(ev, canvas);
      if (ev.ctrlKey || ev.metaKey) {
        ev.preventDefault();
        zoom(Math.pow(1.0015, ev.deltaY), tAt(x));
      } else if (Math.abs(ev.deltaX) > Math.abs(ev.deltaY) || ev.shiftKey) {
        ev.preventDefault();
        const dt = (ev.shiftKey ? ev.deltaY : ev.deltaX) * (st.t1 - st.t0) / (st.width - GUTTER);
        setWindow(st.t0 + dt, st.t1 + dt);
      }
    }, { passive: false });

    // brushing the overview: drag inside the window moves it, drag elsewhere draws a new one
    let brush = null;
    const overT = (x) => Math.max(0, Math.min(d.dur, (x - GUTTER) / Math.max(1, st.width - GUTTER - 8) * d.dur));
    overview.addEventListener("pointerdown", (ev) => {
      const [x] = localXY(ev, overview), t = overT(x);
      const whole = st.t1 - st.t0 > d.dur * 0.98;  // nothing to move: draw a window instead
      brush = !whole && t >= st.t0 && t <= st.t1 ? { move: true, t, t0: st.t0, t1: st.t1 } : { move: false, t, moved: false };
      overview.setPointerCapture && overview.setPointerCapture(ev.pointerId);
    });
    overview.addEventListener("pointermove", (ev) => {
      if (!brush) return;
      const t = overT(localXY(ev, overview)[0]);
      if (brush.move) setWindow(brush.t0 + t - brush.t, brush.t1 + t - brush.t);
      else if (Math.abs(t - brush.t) > d.dur / 1000) { brush.moved = true; setWindow(Math.min(t, brush.t), Math.max(t, brush.t)); }
    });
    overview.addEventListener("pointerup", () => {
      if (brush && !brush.move && !brush.moved) { const w = st.t1 - st.t0; setWindow(brush.t - w / 2, brush.t + w / 2); }
      brush = null;
    });

    let observer = null;
    if (global.ResizeObserver) {
      observer = new ResizeObserver(() => { if (mainWrap.clientWidth !== st.width) { density = null; refresh(); } });
      observer.observe(mainWrap);
    }
    draw();
    if (!st.width) refresh();

    const api = {
      root, state: st, data: d, version: VERSION,
      setWindow, zoom,
      showLanes(names) { st.laneOn = d.lanes.map((n) => !names || names.includes(n)); refresh(); },
      showTypes(names) { st.typeOn = d.types.map((n) => !names || names.includes(n)); refresh(); },
      midpoint(id) {  // where the arrow of message ``id`` is on the canvas, for tests and tours
        for (let j = 0; j < nvis; j++) if (d.ID[vis[j]] === id) return [(vx1[j] + vx2[j]) / 2, (vy1[j] + vy2[j]) / 2];
        return null;
      },
      trackBox(view, label) {  // where the track ``label`` of the view named ``view`` is: [top, bottom]
        const r = rows.find((r) => r.kind === "track" && r.track.label === label && d.views.some((v) => v.name === view && v.tracks.includes(r.track)));
        return r ? [r.y, r.y + r.h] : null;
      },
      xOf(t) { return X(t); },  // the canvas x of time ``t`` in the current window
      select(id) { let i = -1; for (let j = 0; j < d.n; j++) if (d.ID[j] === id) { i = j; break; } select(i >= 0 ? i : null); },
      redraw: draw,
      destroy() { if (observer) observer.disconnect(); root.remove(); const k = instances.indexOf(api); if (k >= 0) instances.splice(k, 1); },
    };
    instances.push(api);
    return api;
  }

  // -- the dashboard ------------------------------------------------------------------------

  function dashboard(d, dash) {
    const el = h("div", { class: "dsp-dash" });
    const pct = dash.pct || {}, ops = dash.ops || {};
    const card = (title, cls) => { const c = h("div", { class: "dsp-card" + (cls ? " " + cls : "") }, h("h3", {}, title)); el.append(c); return c; };

    const lat = card("Client latency (ok operations)");
    const pcts = h("div", { class: "dsp-pcts" });
    for (const k of ["p50", "p90", "p99", "p99.9", "max"]) pcts.append(h("div", {}, h("div", { class: "dsp-k" }, k), h("div", { class: "dsp-big" }, fmtDur(pct[k]))));
    lat.append(pcts);
    lat.append(h("div", { class: "dsp-sub", style: "margin-top:4px" },
      fmtInt(ops.ok || 0) + " ok, " + fmtInt(ops.fail || 0) + " failed, " + fmtInt(ops.info || 0) + " unknown (timed out)" +
      (ops.pending ? ", " + fmtInt(ops.pending) + " never returned" : "") + " · percentiles of " + fmtInt(dash.n || 0) + " latencies"));
    const histC = h("canvas", {});
    const hcard = card("Latency histogram (log scale) and CDF", "dsp-2");
    hcard.append(histC);
    const tpC = h("canvas", {});
    const tcard = card("Throughput: completed operations per second, faults marked", "dsp-wide");
    tcard.append(tpC);

    // messages per type and sender
    const types = dash.types || [], nodes = dash.nodes || [], sent = dash.sent || {}, per = dash.per_node || {};
    const mcard = card("Messages sent, by type and sender", "dsp-wide");
    let html = "<table><tr><th>type</th>" + nodes.map((n) => "<th>" + esc(n) + "</th>").join("") + "<th>total</th><th>dropped</th></tr>";
    for (const t of types) {
      const row = sent[t] || {}, total = Object.values(row).reduce((a, b) => a + b, 0);
      const k = d.types.indexOf(t);
      html += "<tr><td><i style='display:inline-block;width:9px;height:9px;border-radius:2px;margin-right:4px;background:" +
        PALETTE[(k < 0 ? 0 : k) % PALETTE.length] + "'></i>" + esc(t) + "</td>" +
        nodes.map((n) => "<td>" + (row[n] ? fmtInt(row[n]) : "") + "</td>").join("") +
        "<td><b>" + fmtInt(total) + "</b></td><td>" + fmtInt((dash.dropped_by_type || {})[t] || 0) + "</td></tr>";
    }
    const rowOf = (label, key) => "<tr><td>" + label + "</td>" + nodes.map((n) => "<td>" + fmtInt((per[n] || {})[key] || 0) + "</td>").join("") + "<td></td><td></td></tr>";
    html += rowOf("<b>received</b>", "delivered") + rowOf("<b>dropped</b> (sent by)", "dropped") + rowOf("crashes (clerks: replaced)", "crash") + rowOf("pauses", "pause") + "</table>";
    const drops = Object.entries(dash.drops || {}).map(([r, n]) => fmtInt(n) + " " + r).join(", ");
    mcard.append(h("div", { class: "dsp-tablewrap" }));
    mcard.lastChild.innerHTML = html;
    if (drops) mcard.append(h("div", { class: "dsp-sub" }, "drops by reason: " + drops));

    let win = [0, d.dur];
    function drawHist() {
      const w = histC.clientWidth || hcard.clientWidth - 16, H = 150;
      if (w <= 0) return;
      const ctx = setupCanvas(histC, w, H);
      const edges = (dash.hist || {}).edges || [], counts = (dash.hist || {}).counts || [];
      if (!counts.length) { ctx.fillStyle = "#777"; ctx.font = "12px system-ui,sans-serif"; ctx.fillText("no completed operations", 10, 30); return; }
      const L = 36, R = w - 30, top = 8, bot = H - 22;
      const lx = (v) => L + (Math.log10(v) - Math.log10(edges[0])) / (Math.log10(edges[edges.length - 1]) - Math.log10(edges[0])) * (R - L);
      const max = Math.max(...counts);
      ctx.fillStyle = "#9bb3cf";
      counts.forEach((c, i) => { const a = lx(edges[i]), b = lx(edges[i + 1]), hh = c / max * (bot - top); ctx.fillRect(a + 0.5, bot - hh, Math.max(1, b - a - 1), hh); });
      // CDF on the right axis
      ctx.strokeStyle = "#333"; ctx.lineWidth = 1.3; ctx.beginPath();
      (dash.cdf || []).forEach(([x, p], i) => { const X = lx(Math.max(x, edges[0])), Y = bot - p * (bot - top); if (i) ctx.lineTo(X, Y); else ctx.moveTo(X, Y); });
      ctx.stroke();
      ctx.font = "10px system-ui,sans-serif";
      for (const [k, colr] of [["p50", "#59a14f"], ["p90", "#f28e2b"], ["p99", "#d62728"], ["p99.9", "#7b1fa2"]]) {
        if (pct[k] == null) continue;
        const x = lx(Math.max(pct[k], edges[0]));
        ctx.strokeStyle = ctx.fillStyle = colr; ctx.setLineDash([3, 2]);
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bot); ctx.stroke(); ctx.setLineDash([]);
        ctx.fillText(k, x + 2, top + 8 + 10 * ["p50", "p90", "p99", "p99.9"].indexOf(k));
      }
      ctx.fillStyle = "#555"; ctx.strokeStyle = "#999";
      ctx.beginPath(); ctx.moveTo(L, bot); ctx.lineTo(R, bot); ctx.stroke();
      let right = -1e9;  // where the last label ended: labels that would overlap are left out
      for (let e = Math.floor(Math.log10(edges[0])); e <= Math.log10(edges[edges.length - 1]); e++) {
        for (const m of [1, 2, 5]) {
          const v = m * Math.pow(10, e);
          if (v < edges[0] || v > edges[edges.length - 1]) continue;
          const x = lx(v), label = fmtDur(v), tw = ctx.measureText(label).width;
          ctx.beginPath(); ctx.moveTo(x, bot); ctx.lineTo(x, bot + 3); ctx.stroke();
          if (x - tw / 2 < right + 8) continue;
          ctx.fillText(label, x - tw / 2, H - 8);
          right = x + tw / 2;
        }
      }
      ctx.fillText(fmtInt(max), 2, top + 8); ctx.fillText("0", 2, bot);
      ctx.fillText("100%", R + 2, top + 8);
    }

    function drawTp() {
      const w = tpC.clientWidth || tcard.clientWidth - 16, H = 150;
      if (w <= 0) return;
      const ctx = setupCanvas(tpC, w, H);
      const tp = dash.tp || {}, width = tp.width || 1, ok = tp.ok || [], fail = tp.fail || [], info = tp.info || [];
      const L = 44, R = w - 8, top = 14, bot = H - 20, n = ok.length;
      const X = (t) => L + t / d.dur * (R - L);
      for (const p of d.parts) { ctx.fillStyle = GROUPS[0]; ctx.fillRect(X(p.t0), top, Math.max(2, X(p.t1) - X(p.t0)), bot - top); }
      for (const s of d.spans) {
        if (d.clients.has(s.lane)) continue;
        ctx.fillStyle = s.kind === "crash" ? "rgba(214,39,40,0.12)" : "rgba(237,180,40,0.22)";
        ctx.fillRect(X(s.t0), top, Math.max(2, X(s.t1) - X(s.t0)), bot - top);
        ctx.fillStyle = s.kind === "crash" ? COL.drop : "#b8860b"; ctx.font = "10px system-ui,sans-serif";
        ctx.fillText((s.kind === "crash" ? "✕ " : "‖ ") + d.lanes[s.lane], X(s.t0) + 1, top - 3);
      }
      let max = 1;
      for (let i = 0; i < n; i++) max = Math.max(max, (ok[i] + fail[i] + info[i]) / width);
      for (let i = 0; i < n; i++) {
        const a = X(i * width), b = X(Math.min(d.dur, (i + 1) * width));
        let y = bot;
        for (const [v, colr] of [[ok[i], COL.ok], [fail[i], COL.fail], [info[i], COL.info]]) {
          const hh = v / width / max * (bot - top);
          ctx.fillStyle = colr; ctx.fillRect(a, y - hh, Math.max(1, b - a - 0.5), hh); y -= hh;
        }
      }
      for (const m of d.marks) {
        if (m.lane >= 0) continue;
        ctx.strokeStyle = COL.mark; ctx.setLineDash([3, 3]);
        ctx.beginPath(); ctx.moveTo(X(m.t), top); ctx.lineTo(X(m.t), bot); ctx.stroke(); ctx.setLineDash([]);
      }
      ctx.strokeStyle = "#4e79a7"; ctx.lineWidth = 1.2;
      ctx.strokeRect(X(win[0]), top - 1, Math.max(2, X(win[1]) - X(win[0])), bot - top + 2);
      ctx.fillStyle = "#555"; ctx.strokeStyle = "#999"; ctx.lineWidth = 1; ctx.font = "10px system-ui,sans-serif";
      ctx.beginPath(); ctx.moveTo(L, bot); ctx.lineTo(R, bot); ctx.stroke();
      const step = niceStep(d.dur, Math.max(2, Math.floor((R - L) / 80)));
      for (let t = 0; t <= d.dur + 1e-9; t += step) { const lab = tickLabel(t, step); ctx.fillText(lab, X(t) - ctx.measureText(lab).width / 2, H - 6); }
      ctx.fillText(max.toFixed(0) + "/s", 2, top + 8); ctx.fillText("0", 2, bot);
    }

    return {
      el,
      window(t0, t1) { win = [t0, t1]; drawHist(); drawTp(); },
    };
  }

  // -- static pages -------------------------------------------------------------------------

  const instances = [];

  async function loadScript(script) {
    const text = script.textContent.trim();
    if (script.dataset.encoding !== "gzip+base64") return JSON.parse(text);
    if (!global.DecompressionStream) throw new Error("this browser cannot unpack the picture (no DecompressionStream): use a current Chrome, Firefox or Safari");
    const bytes = Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  async function renderAll() {
    const out = [];
    for (const script of document.querySelectorAll('script[type="application/vnd.ds-picture"]')) {
      if (script.dataset.drawn) continue;
      script.dataset.drawn = "1";
      const target = document.getElementById(script.dataset.target) || script.parentNode;
      try {
        out.push(render(target, await loadScript(script)));
      } catch (err) {
        target.append(h("pre", { style: "color:#a31515" }, "could not draw this picture: " + err.message));
        throw err;
      }
    }
    if (global.parent && global.parent !== global) {
      // inside an iframe (a notebook's static output, a page of the site): ask for our height
      const send = () => global.parent.postMessage({ dsPictureHeight: document.documentElement.scrollHeight, name: global.name }, "*");
      send();
      if (global.ResizeObserver) new ResizeObserver(send).observe(document.body);
    }
    return out;
  }

  global.DSPictures = { version: VERSION, render, renderAll, decode, instances };
})(typeof globalThis !== "undefined" ? globalThis : window);
