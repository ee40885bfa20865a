// tinygrad_rnn graph viewer. The SVGs were laid out once by dot; this script only recolours
// and outlines their boxes, and fills the side panels from the numbers the engine recorded.
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("viz-data").textContent);
  const T = D.tensors;
  const $ = (id) => document.getElementById(id);
  const slider = $("slider"), area = $("graph");
  const state = { view: D.views[0].name, pass: "backward", k: 0, picked: null, timer: null };

  // ---- the views: boxes by id, each shape's own colours (to put back) -------------------
  const views = {};
  for (const v of D.views) {
    const root = $("view-" + v.name);
    const svg = root.querySelector("svg");
    const boxes = {};
    for (const g of svg.querySelectorAll("g.node")) {
      const shape = g.querySelector("polygon, path, ellipse");
      const texts = Array.from(g.querySelectorAll("text"));
      boxes[g.dataset.id] = { g, shape, fill: shape && shape.getAttribute("fill"),
        texts, font: texts.map((t) => t.getAttribute("fill")) };
    }
    const owner = {};                                      // box id -> tensor indices
    for (const [i, ids] of Object.entries(v.items))
      for (const id of ids) (owner[id] = owner[id] || []).push(Number(i));
    const box0 = svg.viewBox.baseVal;
    views[v.name] = { root, svg, boxes, items: v.items, owner,
      home: [box0.x, box0.y, box0.width, box0.height] };
    const b = document.createElement("button");
    b.textContent = v.label;
    b.dataset.view = v.name;
    b.onclick = () => { state.view = v.name; render(); };
    $("views").appendChild(b);
    for (const [id, box] of Object.entries(boxes)) {
      if (!owner[id]) continue;
      box.g.addEventListener("mouseenter", () => { if (state.picked === null) showTensor(owner[id][0]); });
      box.g.addEventListener("click", (ev) => { ev.stopPropagation(); if (!moved) pick(owner[id][0]); });
    }
  }

  // ---- text helpers -------------------------------------------------------------------
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const shape = (s) => "(" + s.join(", ") + (s.length === 1 ? ",)" : ")");
  function values(sm) {
    if (!sm) return "none";
    if (sm.freed) return "not kept (freed once used: no backward reads it)";
    if (sm.full) return "[" + sm.full.join(", ") + "]";
    return "min " + sm.min + "  mean " + sm.mean + "  max " + sm.max;
  }
  const label = (i) => T[i].name || T[i].brief;
  const inputs = (t) => (t.inputs || []).map(([role, x]) => esc(role) + " = " + (typeof x === "number"
    ? esc(label(x)) + " " + shape(T[x].shape) + " <span class='num'>" + values(T[x].value) + "</span>" : esc(x))).join("; ");
  const where = (t) => (t.seq !== undefined ? " (tape %" + t.seq + ")" : "") + (t.scope ? " [" + t.scope + "]" : "");

  // ---- one step of a pass -------------------------------------------------------------
  function steps() { return state.pass === "backward" ? D.events.length : D.forward.length; }

  function colours() {            // tensor index -> [norm text, fill, font] after k VJPs
    const c = {};
    if (state.pass !== "backward") return c;
    for (const s of D.seeds) c[s[0]] = s.slice(1);
    for (let e = 0; e < state.k; e++) for (const u of D.events[e].updates) c[u[0]] = u.slice(1);
    return c;
  }

  function current() {            // the tensor whose step is shown, or null
    if (state.k === 0) return null;
    return state.pass === "backward" ? D.events[state.k - 1].node : D.forward[state.k - 1];
  }

  function paint() {
    const v = views[state.view];
    const c = colours();
    const done = new Set(state.pass === "forward" ? D.forward.slice(0, state.k) : []);
    const now = current();
    for (const [id, box] of Object.entries(v.boxes)) {
      const own = v.owner[id] || [];
      let fill = box.fill, font = null;
      for (const i of own) {
        if (c[i]) { fill = c[i][1]; font = c[i][2]; break; }
        if (done.has(i)) { fill = "#cfe3f6"; }
      }
      if (box.shape) box.shape.setAttribute("fill", fill || "none");
      box.texts.forEach((t, n) => t.setAttribute("fill", font || box.font[n] || "black"));
      box.g.classList.toggle("current", now !== null && own.includes(now));
      box.g.classList.toggle("picked", state.picked !== null && own.includes(state.picked));
    }
  }

  function stepPanel() {
    const n = steps(), now = current();
    $("counter").textContent = state.pass + " step " + state.k + " of " + n;
    let h;
    if (now === null) {
      h = "<h3 id='step-title'>" + (state.pass === "backward"
        ? "before backward: dL/dL = 1, nothing run yet" : "before the forward pass") + "</h3>";
    } else if (state.pass === "backward") {
      const e = D.events[state.k - 1], t = T[e.node];
      h = "<h3 id='step-title'>backward step " + state.k + " of " + n + ": " + esc(t.op) +
        " backward" + esc(where(t)) + "</h3>" +
        "<div>output: <b>" + esc(label(e.node)) + "</b> " + shape(t.shape) + "</div>" +
        "<div id='step-gy'>gy = dL/d" + esc(label(e.node)) + ": <span class='num'>" +
        values(e.gy) + "</span>  ||gy|| = <span class='num'>" + e.gy.norm + "</span></div>" +
        "<div id='step-formula'>VJP: <code>" + esc(t.formula || "(no formula)") + "</code></div>" +
        "<div id='step-saved'>reads saved: " + (e.saved.length ? e.saved.map((s) =>
          esc(s.role) + " = " + esc(label(s.tensor)) + " <span class='num'>" + values(T[s.tensor].value) + "</span>"
        ).join("; ") : "nothing") + "</div>" +
        "<div id='step-sends'>sends:<ul>" + e.sends.map((s) => "<li>g" + esc(s.role) + " to " +
          esc(label(s.to)) + ": " + (s.none ? "nothing (no gradient wanted)" :
          "<span class='num'>" + values(s.grad) + "</span>  ||.|| = <span class='num'>" + s.grad.norm + "</span>") +
          "</li>").join("") + "</ul></div>";
    } else {
      const t = T[now];
      h = "<h3 id='step-title'>forward step " + state.k + " of " + n + ": " +
        esc((t.name ? t.name + " = " : "") + t.op + (t.extra ? " " + t.extra : "")) + esc(where(t)) + "</h3>" +
        "<div id='step-inputs'>reads: " + inputs(t) + "</div>" +
        "<div id='step-value'>makes " + shape(t.shape) + ": <span class='num'>" + values(t.value) + "</span></div>";
    }
    $("step-panel").innerHTML = h;
  }

  function showTensor(i) {
    const t = T[i];
    let h = "<h3 id='tensor-name'>" + esc(label(i)) + " <small>(" + esc(t.kind) + ")</small></h3>" +
      "<table><tr><td>shape</td><td id='tensor-shape'>" + shape(t.shape) + "</td></tr>" +
      "<tr><td>dtype</td><td id='tensor-dtype'>" + esc(t.dtype) + "</td></tr>" +
      (t.op ? "<tr><td>made by</td><td>" + esc(t.op + (t.extra ? " " + t.extra : "")) + esc(where(t)) +
        (t.formula ? "<br>VJP <code>" + esc(t.formula) + "</code>" : "") + "</td></tr>" +
        "<tr><td>inputs</td><td>" + inputs(t) + "</td></tr>" : "") +
      (t.step ? "<tr><td>time step</td><td>" + esc(t.step) + "</td></tr>" : "") +
      "<tr><td>value</td><td class='num' id='tensor-value'>" + values(t.value) + "</td></tr>" +
      "<tr><td>||value||</td><td class='num'>" + t.value.norm + "</td></tr>" +
      "<tr><td>grad</td><td class='num' id='tensor-grad'>" + values(t.grad) + "</td></tr>" +
      "<tr><td>||grad||</td><td class='num' id='tensor-gnorm'>" + (t.grad ? t.grad.norm : "-") + "</td></tr></table>";
    if (t.terms) {
      h += "<div id='tensor-terms'>dL/d" + esc(label(i)) + " = sum of " + t.terms.length + " term" +
        (t.terms.length > 1 ? "s" : "") + " (chain rule, one per use):<ol>" + t.terms.map((term) => {
          const y = T[D.events[term.k].node];
          return "<li data-k='" + term.k + "'>backward step " + (term.k + 1) + ", " + esc(y.op) + " backward" +
            (y.scope ? " [" + esc(y.scope) + "]" : "") + ": ||.|| = <span class='num'>" + term.grad.norm +
            "</span></li>";
        }).join("") + "</ol></div>";
    }
    $("tensor-panel").innerHTML = h;
  }

  function pick(i) {
    state.picked = i; showTensor(i); paint();
    // other panels (the attention maps) show what they know of the tensor picked
    document.dispatchEvent(new CustomEvent("viz-pick", { detail: i }));
  }

  function barsPanel() {
    if (!D.bars.length) { $("bars-panel").innerHTML = ""; return; }
    const known = D.bars.filter((b) => b.norm !== null && Number(b.norm) > 0).map((b) => Math.log10(Number(b.norm)));
    const lo = Math.min(...known, 0) - 0.5, hi = Math.max(...known, 0) + 0.5;
    const w = 340, h = 120, bw = Math.max(4, Math.min(40, (w - 10) / D.bars.length - 4));
    let s = "<svg id='bars' width='" + w + "' height='" + (h + 30) + "'>";
    D.bars.forEach((b, n) => {
      const shown = state.pass !== "backward" || state.k > b.at;
      const v = b.norm === null ? null : Number(b.norm);
      const height = v && v > 0 ? 4 + (h - 4) * (Math.log10(v) - lo) / (hi - lo) : 2;
      const x = 5 + n * (bw + 4);
      s += "<rect data-step='" + esc(b.step) + "' data-norm='" + (b.norm === null ? "" : b.norm) + "' class='" +
        (shown ? "done" : "pending") + "' x='" + x + "' y='" + (h - height) + "' width='" + bw + "' height='" +
        height + "' fill='#1f77b4'><title>" + esc(b.step) + ": ||dL/d" + esc(b.state) + "|| = " + b.norm + "</title></rect>" +
        "<text x='" + (x + bw / 2) + "' y='" + (h + 12) + "' font-size='9' text-anchor='middle'>" + esc(b.step) + "</text>";
    });
    s += "</svg>";
    $("bars-panel").innerHTML = "<h3>||dL/d" + esc(D.bars[0].state) + "|| per time step (log scale)</h3>" + s;
  }

  function legend() {
    $("legend").innerHTML = "<div>" + esc(D.scale_title) + "</div>" + D.legend.map((r) =>
      "<span class='legend-row' style='background:" + r[1] + ";color:" + r[2] + "'>" + esc(r[0]) + "</span>").join("");
  }

  function render() {
    for (const [name, v] of Object.entries(views)) v.root.classList.toggle("on", name === state.view);
    for (const b of $("views").children) b.classList.toggle("on", b.dataset.view === state.view);
    slider.max = String(steps());
    state.k = Math.min(state.k, steps());
    slider.value = String(state.k);
    paint(); stepPanel(); barsPanel(); follow();
  }

  function follow() {             // bring the box of the current step into sight, readable
    const now = current(), v = views[state.view];
    const box = now === null || !v.items[now] ? null : v.boxes[v.items[now][0]];
    if (!box || !$("follow").checked) return;
    const r = box.g.getBoundingClientRect(), a = area.getBoundingClientRect();
    if (r.height > 0 && r.height < 14) {               // too small to read: zoom in on it
      const b = vbox(), p = toSvg({ clientX: (r.left + r.right) / 2, clientY: (r.top + r.bottom) / 2 });
      const f = r.height / 30;
      b.width *= f; b.height *= f; b.x = p.x - b.width / 2; b.y = p.y - b.height / 2;
      return;
    }
    if (r.left >= a.left && r.right <= a.right && r.top >= a.top && r.bottom <= a.bottom) return;
    const b = vbox(), s = Math.max(b.width / v.svg.clientWidth, b.height / v.svg.clientHeight);
    b.x += ((r.left + r.right) - (a.left + a.right)) / 2 * s;
    b.y += ((r.top + r.bottom) - (a.top + a.bottom)) / 2 * s;
  }

  function go(k) { state.k = Math.max(0, Math.min(steps(), k)); render(); }
  function stop() { if (state.timer) { clearInterval(state.timer); state.timer = null; $("play").textContent = "play"; } }

  slider.addEventListener("input", () => { stop(); go(Number(slider.value)); });
  $("first").onclick = () => { stop(); go(0); };
  $("prev").onclick = () => { stop(); go(state.k - 1); };
  $("next").onclick = () => { stop(); go(state.k + 1); };
  $("last").onclick = () => { stop(); go(steps()); };
  $("play").onclick = () => {
    if (state.timer) { stop(); return; }
    if (state.k >= steps()) go(0);
    $("play").textContent = "pause";
    state.timer = setInterval(() => { if (state.k >= steps()) stop(); else go(state.k + 1); }, 400);
  };
  for (const r of document.querySelectorAll("input[name=pass]"))
    r.addEventListener("change", () => { stop(); state.pass = r.value; state.k = 0; render(); });
  document.addEventListener("keydown", (ev) => {
    if (ev.target instanceof HTMLInputElement) return;    // the slider moves itself
    if (ev.key === "ArrowRight") { stop(); go(state.k + 1); }
    if (ev.key === "ArrowLeft") { stop(); go(state.k - 1); }
  });

  // ---- zoom (wheel, about the pointer) and pan (drag), on the svg's viewBox ------------------
  let drag = null, moved = false;
  function vbox() { return views[state.view].svg.viewBox.baseVal; }
  function toSvg(ev) {
    const svg = views[state.view].svg, p = svg.createSVGPoint();
    p.x = ev.clientX; p.y = ev.clientY;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }
  area.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const b = vbox(), p = toSvg(ev), f = ev.deltaY > 0 ? 1.15 : 1 / 1.15;
    b.x = p.x - (p.x - b.x) * f; b.y = p.y - (p.y - b.y) * f; b.width *= f; b.height *= f;
  }, { passive: false });
  area.addEventListener("mousedown", (ev) => { drag = { x: ev.clientX, y: ev.clientY }; moved = false; area.classList.add("dragging"); });
  window.addEventListener("mousemove", (ev) => {
    if (!drag) return;
    const svg = views[state.view].svg, b = vbox();
    const scale = b.width / svg.clientWidth, sy = b.height / svg.clientHeight, s = Math.max(scale, sy);
    const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) moved = true;
    b.x -= dx * s; b.y -= dy * s;
    drag = { x: ev.clientX, y: ev.clientY };
  });
  window.addEventListener("mouseup", () => { drag = null; area.classList.remove("dragging"); setTimeout(() => { moved = false; }, 0); });
  area.addEventListener("click", () => { if (!moved && state.picked !== null) { state.picked = null; paint(); } });
  $("fit").onclick = () => { const b = vbox(), h = views[state.view].home; b.x = h[0]; b.y = h[1]; b.width = h[2]; b.height = h[3]; };

  legend();
  render();
  window.tinygradViewer = { state, go, pick, data: D, ready: performance.now() };
})();
