// jamd's page: one WebSocket; "hello" once (targets, the density map), "state" many times a
// second; controls go back as {"set": [[target, value], ...]} — the targets of the mappings
// and OSC (docs/web.md). No framework, no build step: this file is what the browser runs.
"use strict";

const $ = (id) => document.getElementById(id);
const HIT = "#fabe3c", DIM = "#3a3a46", LINE = "#55556a", SEED = "#50e678", HOME = "#9aa0b4";
const jamd = { hello: null, state: null, ws: null, contours: [], storeMode: false };
window.jamd = jamd; // for a look from the browser's console (and the tests)

// ------------------------------------------------------------------------- connection
function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  jamd.ws = ws;
  ws.onopen = () => setTag($("conn"), "online", true);
  ws.onclose = () => { setTag($("conn"), "offline", false); setTimeout(connect, 1000); };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "hello") onHello(msg);
    else if (msg.type === "state") { jamd.state = msg; scheduleDraw(); }
  };
}

function send(pairs) {
  if (jamd.ws && jamd.ws.readyState === WebSocket.OPEN && !jamd.hello.read_only)
    jamd.ws.send(JSON.stringify({ set: pairs }));
}

function setTag(el, text, on) { el.textContent = text; el.classList.toggle("on", on); el.classList.toggle("off", !on); }

// ------------------------------------------------------------------------------ hello
function onHello(h) {
  jamd.hello = h;
  document.body.classList.toggle("readonly", h.read_only);
  $("models").textContent = "drums: " + h.drum_model + (h.bass_model ? " · bass: " + h.bass_model : " · no bass model")
    + (h.read_only ? " · read-only" : "");
  for (const input of document.querySelectorAll("input[data-target]")) {
    const [lo, hi] = h.targets[input.dataset.target];
    input.min = lo; input.max = hi;
  }
  const mutes = $("mutes"); mutes.textContent = "";
  for (const name of ["drums", "bass", ...h.voices]) mutes.append(button(name.replace("_", " "), { switch: "mute." + name }));
  const scenes = $("scenes"); scenes.textContent = "";
  for (let n = 1; n <= h.scenes; n++) {
    const b = button(String(n), {});
    b.dataset.scene = n;
    b.onclick = () => { send([["scene." + (jamd.storeMode ? "store" : "recall") + "." + n, 1]]); setStoreMode(false); };
    scenes.append(b);
  }
  jamd.contours = h.density ? contourSegments(h.density) : [];
  jamd.background = null;
  wireButtons();
}

function button(text, data) {
  const b = document.createElement("button");
  b.textContent = text;
  Object.assign(b.dataset, data);
  return b;
}

function setStoreMode(on) { jamd.storeMode = on; $("storemode").classList.toggle("on", on); }
$("storemode").onclick = () => setStoreMode(!jamd.storeMode);

function wireButtons() {
  for (const b of document.querySelectorAll("button[data-trigger]")) b.onclick = () => send([[b.dataset.trigger, 1]]);
  for (const b of document.querySelectorAll("button[data-switch]"))
    b.onclick = () => send([[b.dataset.switch, jamd.state && jamd.state.values[b.dataset.switch] >= 0.5 ? 0 : 1]]);
}

// ---------------------------------------------------------------------------- sliders
for (const input of document.querySelectorAll("input[data-target]")) {
  input.addEventListener("input", () => send([[input.dataset.target, Number(input.value)]]));
  input.addEventListener("pointerdown", () => { input.dataset.held = "1"; });
  for (const ev of ["pointerup", "pointercancel", "change"]) input.addEventListener(ev, () => { delete input.dataset.held; });
}

// ------------------------------------------------------------------------------- pads
// Each pad follows its own finger (pointer id), so both can be played at once.
for (const pad of document.querySelectorAll("canvas.pad")) {
  pad.pointer = null;
  const at = (ev) => {
    const r = pad.getBoundingClientRect();
    const clamp = (v) => Math.max(-1, Math.min(1, v));
    return [clamp(((ev.clientX - r.left) / r.width) * 2 - 1), clamp(1 - ((ev.clientY - r.top) / r.height) * 2)];
  };
  const move = (ev) => {
    if (ev.pointerId !== pad.pointer) return;
    pad.held = at(ev);
    if (!pad.queued) { // at most one message per frame and pad: the latest position
      pad.queued = true;
      requestAnimationFrame(() => { pad.queued = false; send([[pad.dataset.x, pad.held[0]], [pad.dataset.y, pad.held[1]]]); });
    }
    scheduleDraw();
  };
  pad.addEventListener("pointerdown", (ev) => {
    if (pad.pointer !== null || (jamd.hello && jamd.hello.read_only)) return;
    pad.pointer = ev.pointerId;
    pad.setPointerCapture(ev.pointerId);
    move(ev);
  });
  pad.addEventListener("pointermove", move);
  for (const end of ["pointerup", "pointercancel"])
    pad.addEventListener(end, (ev) => { if (ev.pointerId === pad.pointer) { pad.pointer = null; pad.held = null; } });
}

// --------------------------------------------------------------------------- drawing
let drawPending = false;
function scheduleDraw() { if (!drawPending) { drawPending = true; requestAnimationFrame(draw); } }

function sized(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(canvas.clientWidth * dpr), h = Math.round(canvas.clientHeight * dpr);
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext("2d");
  return [ctx, w, h];
}

function draw() {
  drawPending = false;
  const s = jamd.state, h = jamd.hello;
  if (!s || !h) return;
  $("tempo").textContent = s.bpm.toFixed(1);
  $("position").textContent = s.bar + ":" + s.beat;
  setTag($("transport"), s.running ? "playing" : "stopped", s.running);
  setTag($("clock"), s.clock_mode + (s.clock_ok ? "" : " · lost"), s.clock_ok);
  $("chord").textContent = s.chord;
  $("pending").textContent = s.pending_chord ? "→ " + s.pending_chord + " at the bar line" : "";
  $("footer").textContent = "notes sounding " + s.sounding + " · dropped late " + s.late;
  for (const input of document.querySelectorAll("input[data-target]"))
    if (!input.dataset.held) input.value = s.values[input.dataset.target];
  for (const b of document.querySelectorAll("button[data-switch]")) b.classList.toggle("on", s.values[b.dataset.switch] >= 0.5);
  for (const b of document.querySelectorAll("button[data-scene]")) b.classList.toggle("stored", s.stored_scenes.includes(Number(b.dataset.scene)));
  drawDrumPad(s); drawGrid(s, h); drawBass(s); drawBassPad(s);
}

// pad units (-1..1, y up) <-> canvas pixels
const px = (w, x) => ((x + 1) / 2) * w;
const py = (h, y) => ((1 - y) / 2) * h;

function drawDrumPad(s) {
  const pad = $("drumpad"), [ctx, w, h] = sized(pad);
  ctx.fillStyle = "#141418"; ctx.fillRect(0, 0, w, h);
  // The density map lives on the home plane in spreads; the pad is centred on the seed:
  // pad = spreads / radius - centre. So under the finger is the density where the drums play.
  const toPad = (u, v) => [u / s.radius - s.center[0], v / s.radius - s.center[1]];
  const d = jamd.hello.density;
  if (d) {
    const n = d.grid.length, cell = (2 * d.extent) / n;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      const v = d.grid[i][j];
      if (v < 0.02) continue;
      const [x0, y1] = toPad(-d.extent + j * cell, -d.extent + (i + 1) * cell);
      const [x1, y0] = toPad(-d.extent + (j + 1) * cell, -d.extent + i * cell);
      ctx.fillStyle = `rgba(90,110,150,${(0.55 * v).toFixed(3)})`;
      ctx.fillRect(px(w, x0), py(h, y1), px(w, x1) - px(w, x0) + 1, py(h, y0) - py(h, y1) + 1);
    }
    ctx.lineWidth = 1.5 * (window.devicePixelRatio || 1);
    for (const [level, segs] of jamd.contours) {
      ctx.strokeStyle = `rgba(150,180,230,${(0.35 + 0.15 * level).toFixed(2)})`;
      ctx.beginPath();
      for (const [u0, v0, u1, v1] of segs) {
        const [a, b] = toPad(u0, v0), [c, e] = toPad(u1, v1);
        ctx.moveTo(px(w, a), py(h, b)); ctx.lineTo(px(w, c), py(h, e));
      }
      ctx.stroke();
    }
  }
  ctx.strokeStyle = LINE; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(w / 2, 0); ctx.lineTo(w / 2, h); ctx.moveTo(0, h / 2); ctx.lineTo(w, h / 2); ctx.stroke();
  const r = Math.max(6, w / 40);
  const [hx, hy] = [-s.center[0], -s.center[1]]; // home (the training codes' mean) in pad units
  ctx.strokeStyle = HOME; ctx.lineWidth = 2; ctx.beginPath();
  ctx.moveTo(px(w, hx) - r, py(h, hy)); ctx.lineTo(px(w, hx) + r, py(h, hy));
  ctx.moveTo(px(w, hx), py(h, hy) - r); ctx.lineTo(px(w, hx), py(h, hy) + r); ctx.stroke();
  ctx.fillStyle = SEED; ctx.beginPath(); // the seed is the centre: x = y = 0 plays it
  ctx.moveTo(w / 2, h / 2 - r); ctx.lineTo(w / 2 + r, h / 2); ctx.lineTo(w / 2, h / 2 + r); ctx.lineTo(w / 2 - r, h / 2); ctx.fill();
  const set = pad.held || s.pad;
  ctx.strokeStyle = HIT; ctx.lineWidth = 3; ctx.beginPath(); ctx.arc(px(w, set[0]), py(h, set[1]), r * 1.6, 0, 7); ctx.stroke();
  ctx.fillStyle = HIT; ctx.beginPath(); ctx.arc(px(w, s.slewed[0]), py(h, s.slewed[1]), r * 0.8, 0, 7); ctx.fill();
}

function drawGrid(s, hello) {
  const grid = $("grid"), [ctx, w, h] = sized(grid);
  const voices = hello.voices.length, steps = s.drums.length / voices || 32;
  const label = w * 0.16, cw = (w - label) / steps, ch = h / voices;
  ctx.fillStyle = "#141418"; ctx.fillRect(0, 0, w, h);
  ctx.font = `${Math.floor(ch * 0.6)}px system-ui`; ctx.textBaseline = "middle";
  for (let v = 0; v < voices; v++) {
    const y = (voices - 1 - v) * ch; // kick at the bottom, as `jamd map` and the terminal draw it
    const muted = s.values["mute." + hello.voices[v]] >= 0.5;
    ctx.fillStyle = muted ? "#a55" : "#aaa";
    ctx.fillText(hello.voices[v].replace("_", " "), 2, y + ch / 2);
    for (let t = 0; t < steps; t++) {
      const level = Number(s.drums[v * steps + t]);
      ctx.fillStyle = level ? `rgba(250,190,60,${(0.3 + 0.7 * level / 9).toFixed(2)})` : (t % 4 ? DIM : "#4a4a5a");
      ctx.fillRect(label + t * cw + 1, y + 1, cw - 2, ch - 2);
    }
  }
  ctx.strokeStyle = "#fff"; ctx.lineWidth = 2;
  ctx.strokeRect(label + s.step * cw, 0, cw, h);
  grid.dataset.pattern = s.drums; // what is drawn, for a look from outside (the tests)
  grid.dataset.step = s.step;
}

function drawBass(s) {
  const roll = $("bassroll"), [ctx, w, h] = sized(roll);
  const steps = 32, lo = -12, hi = 24, cw = w / steps, nh = h / (hi - lo);
  ctx.fillStyle = "#141418"; ctx.fillRect(0, 0, w, h);
  for (let t = 0; t < steps; t += 4) { ctx.fillStyle = DIM; ctx.fillRect(t * cw, 0, 1, h); }
  ctx.fillStyle = HIT;
  for (const [step, pitch, length] of s.bass)
    ctx.fillRect(step * cw + 1, h - (pitch - lo + 1) * nh, Math.max(1, length) * cw - 2, Math.max(2, nh));
  ctx.strokeStyle = "#fff"; ctx.lineWidth = 2; ctx.strokeRect(s.step * cw, 0, cw, h);
}

function drawBassPad(s) {
  const pad = $("basspad"), [ctx, w, h] = sized(pad);
  ctx.fillStyle = "#141418"; ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = LINE; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(w / 2, 0); ctx.lineTo(w / 2, h); ctx.moveTo(0, h / 2); ctx.lineTo(w, h / 2); ctx.stroke();
  const set = pad.held || [s.values["bass.x"], s.values["bass.y"]], r = Math.max(6, w / 30);
  ctx.strokeStyle = HIT; ctx.lineWidth = 3; ctx.beginPath(); ctx.arc(px(w, set[0]), py(h, set[1]), r, 0, 7); ctx.stroke();
}

// -------------------------------------------------------------------- contour lines
// Marching squares over the density grid (cell centres, in spreads): for each level, the
// line segments where the density crosses it. The levels are `jamd map`'s (the same data).
const CASES = [[], [[3, 0]], [[0, 1]], [[3, 1]], [[1, 2]], [[0, 1], [2, 3]], [[0, 2]], [[3, 2]],
  [[2, 3]], [[0, 2]], [[3, 0], [1, 2]], [[1, 2]], [[1, 3]], [[0, 1]], [[0, 3]], []];

function contourSegments(d) {
  const g = d.grid, n = g.length, cell = (2 * d.extent) / n, c = (k) => -d.extent + (k + 0.5) * cell;
  return d.levels.map((level, li) => {
    const segs = [];
    for (let i = 0; i + 1 < n; i++) for (let j = 0; j + 1 < n; j++) {
      const corner = [[i, j], [i, j + 1], [i + 1, j + 1], [i + 1, j]]; // a b c d: counter-clockwise
      const val = corner.map(([r, q]) => g[r][q]);
      const idx = val.reduce((acc, v, k) => acc | ((v >= level) << k), 0);
      const edge = (e) => {
        const [p, q] = [e, (e + 1) % 4], t = (level - val[p]) / (val[q] - val[p]);
        const [r0, c0] = corner[p], [r1, c1] = corner[q];
        return [c(c0 + t * (c1 - c0)), c(r0 + t * (r1 - r0))];
      };
      for (const [e0, e1] of CASES[idx]) segs.push([...edge(e0), ...edge(e1)]);
    }
    return [d.levels.length - li, segs];
  });
}

window.addEventListener("resize", scheduleDraw);
connect();
