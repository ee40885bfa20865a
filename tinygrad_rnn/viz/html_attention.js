// The attention panel of the graph viewer: a small heat map per layer (row) and head (column),
// drawn on canvases; the one selected drawn large as SVG, tokens on its axes, every weight in
// its cell's data-v and on hover. Row i of a map is what query i attends to; rows sum to 1.
"use strict";
(function () {
  const viewer = window.tinygradViewer, A = viewer.data.attention, T = viewer.data.tensors;
  const panel = document.getElementById("attention-panel");
  const state = { group: 0, layer: 0, head: 0, row: null };
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/'/g, "&#39;");
  const THUMB = 64, MAP = 300;

  // 0 white .. 1 dark blue, one fixed scale for every map (weights are probabilities);
  // null (NaN or Inf) red
  function rgb(v) {
    if (v === null) return [214, 39, 40];
    const t = Math.max(0, Math.min(1, v));
    const mix = (lo, hi) => Math.round(lo + (hi - lo) * t);
    return [mix(255, 8), mix(255, 48), mix(255, 107)];
  }
  const colour = (v) => "rgb(" + rgb(v).join(",") + ")";
  const shown = (v) => (v === null ? "NaN/Inf" : String(v));
  const group = () => A.groups[state.group];
  const layer = () => group().layers[state.layer];

  function thumbnail(canvas, entry, head) {
    const [, L, S] = entry.shape, w = entry.heads[head];
    canvas.width = S; canvas.height = L;                 // one pixel a weight, scaled by CSS
    const scale = THUMB / Math.max(L, S);
    canvas.style.width = Math.max(4, Math.round(S * scale)) + "px";
    canvas.style.height = Math.max(4, Math.round(L * scale)) + "px";
    const ctx = canvas.getContext("2d"), image = ctx.createImageData(S, L);
    for (let n = 0; n < L * S; n++) {
      image.data.set(rgb(w[n]), 4 * n);
      image.data[4 * n + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
  }

  function grid() {
    const g = group(), heads = Math.max(...g.layers.map((e) => e.shape[0]));
    let h = "<table id='att-grid'><tr><th></th>";
    for (let k = 0; k < heads; k++) h += "<th>head " + (k + 1) + "</th>";
    h += "</tr>";
    g.layers.forEach((entry, l) => {
      h += "<tr><th>" + esc(entry.label) + "</th>";
      for (let k = 0; k < entry.shape[0]; k++)
        h += "<td><canvas class='att-thumb' data-layer='" + l + "' data-head='" + k + "' title='" +
          esc(entry.label + ", head " + (k + 1)) + "'></canvas></td>";
      h += "</tr>";
    });
    return h + "</table>";
  }

  function axisLabels(tokens, cell) { return tokens && cell >= 7 ? tokens : null; }

  function bigMap() {
    const entry = layer(), [, L, S] = entry.shape, w = entry.heads[state.head];
    const cell = Math.max(2, Math.min(44, Math.floor(MAP / Math.max(L, S))));
    const q = axisLabels(entry.queries, cell), k = axisLabels(entry.keys, cell);
    const font = Math.min(11, cell - 1);
    const room = (tokens) => (tokens ? Math.min(70, 6 + 0.62 * font * Math.max(...tokens.map((t) => t.length))) : 2);
    const left = room(q), top = room(k);
    let s = "<svg id='att-map' width='" + (left + S * cell + 2) + "' height='" + (top + L * cell + 2) +
      "' data-layer='" + state.layer + "' data-head='" + state.head + "'>";
    for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) {
      const v = w[i * S + j], x = left + j * cell, y = top + i * cell;
      s += "<rect class='att-cell' data-q='" + i + "' data-k='" + j + "' data-v='" + shown(v) + "' x='" + x +
        "' y='" + y + "' width='" + cell + "' height='" + cell + "' fill='" + colour(v) + "'></rect>";
      if (cell >= 30 && v !== null)
        s += "<text x='" + (x + cell / 2) + "' y='" + (y + cell / 2 + 3) + "' font-size='9' text-anchor='middle' fill='" +
          (v > 0.5 ? "white" : "black") + "' pointer-events='none'>" + v.toFixed(2) + "</text>";
    }
    if (q) q.forEach((t, i) => { s += "<text class='att-query' x='" + (left - 3) + "' y='" + (top + i * cell + cell / 2 + font / 3) +
      "' font-size='" + font + "' text-anchor='end'>" + esc(t) + "</text>"; });
    if (k) k.forEach((t, j) => { const x = left + j * cell + cell / 2 + font / 3;
      s += "<text class='att-key' x='" + x + "' y='" + (top - 3) + "' font-size='" + font +
        "' transform='rotate(-90 " + x + " " + (top - 3) + ")'>" + esc(t) + "</text>"; });
    if (state.row !== null && state.row < L)
      s += "<rect class='att-row' x='" + left + "' y='" + (top + state.row * cell) + "' width='" + S * cell +
        "' height='" + cell + "'></rect>";
    return s + "</svg>";
  }

  function title() {
    const g = group(), entry = layer(), [heads, L, S] = entry.shape;
    let h = (A.groups.length > 1 ? esc(g.name) + ", " : "") + esc(entry.label) +
      (heads > 1 ? ", head " + (state.head + 1) + " of " + heads : "") + ": " + L + " queries x " + S + " keys";
    const linked = entry.tensors.map(([i, row]) => "<a class='att-tensor' data-tensor='" + i + "'>" +
      esc(T[i].name || T[i].brief) + (T[i].seq !== undefined ? " %" + T[i].seq : "") + "</a>");
    if (linked.length) h += "<br>in the graph: " + linked.join(", ");
    return h;
  }

  function render() {
    let h = "<h3>attention weights <small>(first sequence of the batch; row = query, column = key)</small></h3>";
    if (A.groups.length > 1)
      h += "<div id='att-groups'>" + A.groups.map((g, n) => "<button class='att-group" + (n === state.group ? " on" : "") +
        "' data-group='" + n + "'>" + esc(g.name) + "</button>").join("") + "</div>";
    h += grid() + "<div id='att-title'>" + title() + "</div>" + bigMap() +
      "<div id='att-readout' class='num'>hover a cell for its weight</div>" +
      "<div class='att-scale'>0 <span class='att-bar'></span> 1</div>";
    panel.innerHTML = h;
    for (const c of panel.querySelectorAll("canvas.att-thumb")) {
      const l = Number(c.dataset.layer), k = Number(c.dataset.head);
      thumbnail(c, group().layers[l], k);
      c.classList.toggle("on", l === state.layer && k === state.head);
      c.addEventListener("click", () => { state.layer = l; state.head = k; state.row = null; render(); });
    }
    for (const b of panel.querySelectorAll("button.att-group"))
      b.addEventListener("click", () => { state.group = Number(b.dataset.group); state.layer = 0; state.head = 0;
        state.row = null; render(); });
    for (const a of panel.querySelectorAll("a.att-tensor"))
      a.addEventListener("click", () => viewer.pick(Number(a.dataset.tensor)));
    const entry = layer(), readout = document.getElementById("att-readout");
    document.getElementById("att-map").addEventListener("mouseover", (ev) => {
      const r = ev.target;
      if (!r.classList.contains("att-cell")) return;
      const i = Number(r.dataset.q), j = Number(r.dataset.k);
      const name = (tokens, n) => (tokens ? "'" + tokens[n] + "' (" + n + ")" : String(n));
      readout.textContent = "query " + name(entry.queries, i) + " -> key " + name(entry.keys, j) + ": " + r.dataset.v;
    });
  }

  // a weights tensor clicked in the graph: its map, at the query row it computed
  document.addEventListener("viz-pick", (ev) => {
    A.groups.forEach((g, gi) => g.layers.forEach((entry, l) => {
      for (const [i, row] of entry.tensors) {
        if (i !== ev.detail) continue;
        state.group = gi; state.layer = l; state.head = Math.min(state.head, entry.shape[0] - 1);
        state.row = entry.tensors.length > 1 ? row : null;
        render();
        panel.scrollIntoView({ block: "nearest" });
      }
    }));
  });

  render();
  window.tinygradAttention = { state };
})();
