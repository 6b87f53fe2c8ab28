// The playground page. All maths (update rules, test functions, networks, losses, data sets,
// the initialisation study) is the optimlab library compiled to WebAssembly; this script only
// draws and wires the controls. The module answers JSON requests (see crates/optimlab-web).
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = ["#d1495b", "#1f6feb", "#2a9d3f", "#e09f1f"];
const OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "amsgrad", "nadam", "radam", "adadelta", "lion"];
// The hyperparameters each rule has, beyond lr (a blank field means the flavour's default).
const HYPER = {
  sgd: [], momentum: ["momentum"], nesterov: ["momentum"], adagrad: [], rmsprop: ["rho", "momentum"],
  adam: ["beta1", "beta2"], adamw: ["beta1", "beta2"], amsgrad: ["beta1", "beta2"], nadam: ["beta1", "beta2"],
  radam: ["beta1", "beta2"], adadelta: ["rho"], lion: ["beta1", "beta2"],
};
const HYPER_LABEL = { momentum: "momentum", rho: "ρ", beta1: "β₁", beta2: "β₂" };
const WHY = {
  sgd: "Plain SGD: a step down the gradient, the same size in every direction.",
  momentum: "Momentum keeps a velocity: steps that agree add up, zig-zags cancel out.",
  nesterov: "Nesterov looks ahead: the gradient is taken where momentum is about to carry the point.",
  adagrad: "AdaGrad divides by the root of the summed squared gradients: steep directions slow down, and every step shrinks over time.",
  rmsprop: "RMSprop divides by a moving average of squared gradients, so steps stop shrinking forever (ρ is the average's decay).",
  adam: "Adam: momentum (β₁) plus RMSprop's scaling (β₂), with bias correction for the first steps.",
  adamw: "AdamW: Adam with weight decay applied to the weights directly, not through the gradient.",
  amsgrad: "AMSGrad: Adam that never lets the scaling denominator shrink.",
  nadam: "NAdam: Adam with Nesterov's look-ahead momentum.",
  radam: "RAdam: Adam that warms up its adaptive scaling while the variance estimate is unreliable.",
  adadelta: "Adadelta: step sizes from running averages of updates and gradients; the lr only scales them.",
  lion: "Lion: steps of fixed size in the sign of a momentum blend (β₁, β₂).",
};
const VIEW = {
  book: { x: [-10, 10], y: [-5, 5], min: [0, 0] },
  rosenbrock: { x: [-2, 2], y: [-1, 3], min: [1, 1] },
  beale: { x: [-4.5, 4.5], y: [-4.5, 4.5], min: [3, 0.5] },
  saddle: { x: [-2, 2], y: [-2, 2], min: null },
};
const START = { book: [-7, 2], rosenbrock: [-1.5, 2], beale: [1, 1.5], saddle: [-1, 0.001] };

// ---------------------------------------------------------------- the library
let mainCall = null; // synchronous calls on the page's own instance (trajectories, surfaces)
let worker = null;
let nextId = 1;
const pending = new Map();

function bind(instance) {
  const ex = instance.exports;
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  return (request) => {
    const bytes = enc.encode(JSON.stringify(request));
    const p = ex.optimlab_alloc(bytes.length);
    new Uint8Array(ex.memory.buffer, p, bytes.length).set(bytes);
    const out = ex.optimlab_call(p, bytes.length);
    const n = new DataView(ex.memory.buffer).getUint32(out, true);
    const text = dec.decode(new Uint8Array(ex.memory.buffer, out + 4, n).slice());
    ex.optimlab_dealloc(out, n + 4);
    const v = JSON.parse(text);
    if (v.error !== undefined) throw new Error(v.error);
    return v.ok;
  };
}

function lib(request) {
  return mainCall(request);
}

function work(request) {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, request });
  });
}

async function boot() {
  const b64 = $("wasm").textContent.trim();
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const module = await WebAssembly.compile(bytes);
  mainCall = bind(await WebAssembly.instantiate(module, {}));
  const src = $("worker-src").textContent;
  worker = new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })));
  await new Promise((resolve, reject) => {
    worker.onerror = (e) => reject(new Error("the worker failed: " + (e.message || e)));
    worker.onmessage = (e) => {
      if (e.data.ready) { resolve(); return; }
      const p = pending.get(e.data.id);
      pending.delete(e.data.id);
      const a = e.data.answer;
      if (a.error !== undefined) p.reject(new Error(a.error)); else p.resolve(a.ok);
    };
    worker.postMessage({ module });
  });
  return bytes.length;
}

function status(text, error) {
  const s = $("status");
  s.textContent = text;
  s.classList.toggle("error", !!error);
}

// ---------------------------------------------------------------- small helpers
function fit(canvas, aspect) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(100, Math.round(canvas.clientWidth || canvas.width));
  const h = Math.round(w * aspect);
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w, h };
}

function num(v) {
  if (v === "" || v === null || v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function fmt(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

// A racer: an optimizer with its own lr and hyperparameters, as a card of controls.
function racerCard(container, racer, index, onChange, onRemove) {
  const card = document.createElement("div");
  card.className = "racer";
  card.style.setProperty("--c", COLORS[index]);
  const head = document.createElement("div");
  head.className = "head";
  const sel = document.createElement("select");
  sel.setAttribute("aria-label", "optimizer " + (index + 1));
  for (const o of OPTIMIZERS) sel.add(new Option(o, o, false, o === racer.optimizer));
  head.append(sel);
  if (onRemove) {
    const rm = document.createElement("button");
    rm.className = "remove";
    rm.textContent = "×";
    rm.title = "remove this optimizer";
    rm.onclick = onRemove;
    head.append(rm);
  }
  card.append(head);
  const why = document.createElement("small");
  why.className = "why";
  card.append(why);
  const row = document.createElement("div");
  row.className = "row";
  card.append(row);
  function fields() {
    row.textContent = "";
    why.textContent = WHY[racer.optimizer];
    for (const key of ["lr", ...HYPER[racer.optimizer]]) {
      const l = document.createElement("label");
      l.textContent = key === "lr" ? "lr" : HYPER_LABEL[key];
      const inp = document.createElement("input");
      inp.type = "number";
      inp.step = "any";
      inp.placeholder = "default";
      inp.value = racer[key] ?? "";
      // A slider beside the box: the lr on a log scale (10⁻⁴ to 10), the decay rates in [0, 1).
      const slider = document.createElement("input");
      slider.type = "range";
      slider.setAttribute("aria-label", key + " slider");
      const log = key === "lr";
      if (log) { slider.min = -4; slider.max = 1; slider.step = 0.05; } else { slider.min = 0; slider.max = 0.999; slider.step = 0.001; }
      const typical = { lr: 0.01, momentum: 0.9, rho: 0.9, beta1: 0.9, beta2: 0.999 }[key];
      const place = (v) => { slider.value = log ? Math.log10(v) : v; };
      place(racer[key] ?? typical);
      inp.oninput = () => { racer[key] = num(inp.value); if (racer[key] > 0) place(racer[key]); onChange(); };
      slider.oninput = () => {
        const v = log ? Number((10 ** Number(slider.value)).toPrecision(2)) : Number(slider.value);
        racer[key] = v;
        inp.value = v;
        onChange();
      };
      l.append(inp, slider);
      row.append(l);
    }
  }
  sel.onchange = () => {
    racer.optimizer = sel.value;
    for (const k of ["momentum", "rho", "beta1", "beta2"]) if (!HYPER[racer.optimizer].includes(k)) delete racer[k];
    fields();
    onChange();
  };
  fields();
  container.append(card);
}

function optimizerKeys(r) {
  const out = { optimizer: r.optimizer };
  for (const k of ["lr", ...HYPER[r.optimizer]]) if (r[k] !== undefined) out[k] = r[k];
  return out;
}

// What "+ optimizer" adds: the first of these not racing yet.
const RACE_EXTRA = [{ optimizer: "rmsprop", lr: 0.1 }, { optimizer: "nesterov", lr: 0.1 }, { optimizer: "adam", lr: 0.3 }, { optimizer: "sgd", lr: 0.95 }];
const TRAIN_EXTRA = [{ optimizer: "momentum", lr: 0.05 }, { optimizer: "rmsprop", lr: 0.01 }, { optimizer: "adagrad", lr: 0.1 }, { optimizer: "adam", lr: 0.01 }, { optimizer: "sgd", lr: 0.1 }];
function nextRacer(racers, extra) {
  const used = new Set(racers.map((r) => r.optimizer));
  return { ...(extra.find((e) => !used.has(e.optimizer)) || extra[0]) };
}

function drawLegend(el, racers) {
  el.textContent = "";
  racers.forEach((r, i) => {
    const s = document.createElement("span");
    s.style.setProperty("--c", COLORS[i]);
    s.textContent = r.optimizer + (r.lr !== undefined ? " lr " + r.lr : "");
    el.append(s);
  });
}

function addButton(container, label, onClick) {
  const b = document.createElement("button");
  b.textContent = label;
  b.onclick = onClick;
  container.append(b);
}

// ---------------------------------------------------------------- state in the URL
const state = {
  tab: "race",
  race: {
    function: "book", steps: 40, preset: "book", start: null,
    racers: [
      { optimizer: "sgd", lr: 0.95 }, { optimizer: "momentum", lr: 0.1 },
      { optimizer: "adagrad", lr: 1.5 }, { optimizer: "adam", lr: 0.3 },
    ],
  },
  train: {
    data: "circle", noise: 0, test: 50, hidden: "8,8", activation: "relu", init: "he", std: 0.01,
    batch: 10, bn: false, dropout: 0, wd: 0, preset: "torch", seed: 0,
    racers: [{ optimizer: "adam", lr: 0.01 }, { optimizer: "sgd", lr: 0.1 }],
  },
  init: { init: "1", activation: "sigmoid", layers: 5 },
};

function saveUrl() {
  const text = JSON.stringify(state);
  history.replaceState(null, "", "#" + encodeURIComponent(text));
}

function loadUrl() {
  if (location.hash.length < 2) return;
  try {
    const s = JSON.parse(decodeURIComponent(location.hash.slice(1)));
    for (const k of ["race", "train", "init"]) if (s[k]) Object.assign(state[k], s[k]);
    if (s.tab) state.tab = s.tab;
  } catch (e) {
    status("The address holds no playground state; starting from the defaults.");
  }
}

function showTab(tab) {
  state.tab = tab;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("on", b.dataset.tab === tab);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== tab;
  saveUrl();
  redrawAll();
}

// ---------------------------------------------------------------- 1. optimizer race
const race = { paths: [], k: 0, playing: false, surface: null, surfaceKey: "", dragging: false };

function raceRequest(r) {
  const st = state.race;
  return {
    op: "trajectory", function: st.function, preset: st.preset, dtype: "f64", steps: st.steps,
    start: st.start || START[st.function], ...optimizerKeys(r),
  };
}

function computeRace() {
  const st = state.race;
  race.paths = st.racers.map((r) => {
    try {
      const rep = lib(raceRequest(r));
      return { points: rep.positions, values: rep.values, error: null };
    } catch (e) {
      return { points: [], values: [], error: e.message };
    }
  });
  const errors = race.paths.map((p, i) => p.error && `${st.racers[i].optimizer}: ${p.error}`).filter(Boolean);
  if (errors.length) status(errors.join("; "), true); else status("Ready.");
}

function raceControls() {
  const st = state.race;
  $("r-function").value = st.function;
  $("r-steps").value = st.steps;
  $("r-steps-out").textContent = st.steps;
  $("r-preset").value = st.preset;
  const box = $("r-racers");
  box.textContent = "";
  st.racers.forEach((r, i) => racerCard(box, r, i, () => raceChanged(),
    st.racers.length > 1 ? () => { st.racers.splice(i, 1); raceControls(); raceChanged(); } : null));
  if (st.racers.length < 4) addButton(box, "+ optimizer", () => { st.racers.push(nextRacer(st.racers, RACE_EXTRA)); raceControls(); raceChanged(); });
  drawLegend($("r-legend"), st.racers);
}

function raceChanged() {
  saveUrl();
  computeRace();
  race.k = state.race.steps;
  drawLegend($("r-legend"), state.race.racers);
  drawRace();
}

function colorRamp(q) {
  // Blue (low) to sand (high); q is the contour level in [0, 1].
  const a = [198, 222, 245], b = [250, 221, 184];
  return a.map((v, i) => Math.round(v + (b[i] - v) * q));
}

function drawRace() {
  const canvas = $("r-plot");
  if (!canvas.offsetParent) return;
  const { ctx, w, h } = fit(canvas, 0.7);
  const st = state.race;
  const view = VIEW[st.function];
  const n = 240;
  const key = st.function + n;
  if (race.surfaceKey !== key) {
    race.surface = lib({ op: "surface", function: st.function, x: view.x, y: view.y, n });
    race.surfaceKey = key;
  }
  const vals = race.surface;
  let lo = Infinity, hi = -Infinity;
  for (const v of vals) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  // Contour levels evenly spaced in log(1 + f − min); a darker pixel where the level changes.
  const levels = 18;
  const span = Math.log1p(hi - lo) || 1;
  const level = vals.map((v) => Math.min(levels - 1, Math.floor((Math.log1p(v - lo) / span) * levels)));
  const img = new ImageData(n, n);
  level.forEach((q, i) => {
    const [r, g, b] = colorRamp(q / (levels - 1));
    const c = i % n, row = Math.floor(i / n);
    const edge = (c + 1 < n && level[i + 1] !== q) || (row + 1 < n && level[i + n] !== q);
    const k = edge ? 0.86 : 1;
    img.data.set([r * k, g * k, b * k, 255], i * 4);
  });
  const off = document.createElement("canvas");
  off.width = n; off.height = n;
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, w, h);
  const sx = (x) => ((x - view.x[0]) / (view.x[1] - view.x[0])) * w;
  const sy = (y) => h - ((y - view.y[0]) / (view.y[1] - view.y[0])) * h;
  // Axes through the origin and the minimum.
  ctx.strokeStyle = "rgba(0,0,0,0.18)";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(sx(0), 0); ctx.lineTo(sx(0), h); ctx.moveTo(0, sy(0)); ctx.lineTo(w, sy(0));
  ctx.stroke();
  if (view.min) {
    ctx.fillStyle = "#1d232b";
    ctx.font = "16px system-ui";
    ctx.fillText("★", sx(view.min[0]) - 6, sy(view.min[1]) + 6);
  }
  race.paths.forEach((p, i) => {
    if (!p.points.length) return;
    const upto = Math.min(race.k, p.points.length - 1);
    ctx.strokeStyle = COLORS[i];
    ctx.fillStyle = COLORS[i];
    ctx.lineWidth = 2;
    ctx.beginPath();
    for (let j = 0; j <= upto; j++) {
      const [x, y] = p.points[j];
      const X = Math.max(-1e4, Math.min(1e4, sx(x))), Y = Math.max(-1e4, Math.min(1e4, sy(y)));
      if (j === 0) ctx.moveTo(X, Y); else ctx.lineTo(X, Y);
    }
    ctx.stroke();
    for (let j = 0; j <= upto; j++) {
      const [x, y] = p.points[j];
      ctx.beginPath();
      ctx.arc(sx(x), sy(y), j === upto ? 4.5 : 2, 0, 2 * Math.PI);
      ctx.fill();
    }
  });
  const s0 = st.start || START[st.function];
  ctx.strokeStyle = "#1d232b";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.arc(sx(s0[0]), sy(s0[1]), 7, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.fillStyle = "#1d232b";
  ctx.font = "13px system-ui";
  ctx.fillText(`step ${race.k} / ${st.steps}`, 8, 18);
  ctx.fillText(`x ∈ [${view.x}], y ∈ [${view.y}]`, 8, h - 8);
  race.toWorld = (px, py) => [
    view.x[0] + (px / w) * (view.x[1] - view.x[0]),
    view.y[0] + ((h - py) / h) * (view.y[1] - view.y[0]),
  ];
}

function racePlay() {
  if (race.playing) { race.playing = false; $("r-play").textContent = "▶ Play"; return; }
  if (race.k >= state.race.steps) race.k = 0;
  race.playing = true;
  $("r-play").textContent = "⏸ Pause";
  let last = 0;
  const tick = (t) => {
    if (!race.playing) return;
    if (t - last > 60) {
      last = t;
      race.k += 1;
      drawRace();
      if (race.k >= state.race.steps) { race.playing = false; $("r-play").textContent = "▶ Play"; return; }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

function wireRace() {
  $("r-function").onchange = (e) => { state.race.function = e.target.value; state.race.start = null; raceChanged(); };
  $("r-steps").oninput = (e) => { state.race.steps = Number(e.target.value); $("r-steps-out").textContent = e.target.value; raceChanged(); };
  $("r-preset").onchange = (e) => { state.race.preset = e.target.value; raceChanged(); };
  $("r-play").onclick = racePlay;
  $("r-step").onclick = () => { race.playing = false; race.k = Math.min(state.race.steps, (race.k >= state.race.steps ? 0 : race.k) + 1); drawRace(); };
  $("r-reset").onclick = () => { race.playing = false; $("r-play").textContent = "▶ Play"; race.k = 0; drawRace(); };
  const canvas = $("r-plot");
  const move = (e) => {
    const rect = canvas.getBoundingClientRect();
    const [x, y] = race.toWorld(e.clientX - rect.left, e.clientY - rect.top);
    state.race.start = [Number(x.toFixed(3)), Number(y.toFixed(3))];
    raceChanged();
  };
  canvas.onpointerdown = (e) => { race.dragging = true; canvas.setPointerCapture(e.pointerId); move(e); };
  canvas.onpointermove = (e) => { if (race.dragging) move(e); };
  canvas.onpointerup = () => { race.dragging = false; };
}

// ---------------------------------------------------------------- 2. train a network
const tr = { sessions: [], history: [], boundary: [], points: null, playing: false, generation: 0, info: null };

function hiddenList(text) {
  const parts = String(text).split(",").map((s) => s.trim()).filter((s) => s !== "");
  const out = parts.map(Number);
  if (!out.length || out.some((v) => !Number.isInteger(v) || v < 1 || v > 1000)) {
    throw new Error(`hidden layers '${text}': expected sizes from 1 to 1000 separated by commas, e.g. 8,8`);
  }
  return out;
}

function sessionRequest(r) {
  const t = state.train;
  const req = {
    op: "session", data: t.data, hidden: hiddenList(t.hidden), activation: t.activation,
    init: t.init === "std" ? String(t.std) : t.init, batch_size: t.batch, batch_norm: t.bn,
    dropout: t.dropout, preset: t.preset, seed: t.seed, ...optimizerKeys(r),
  };
  if (t.wd > 0) req.weight_decay = t.wd;
  if (t.data !== "digits") { req.noise = t.noise / 100; req.test_fraction = t.test / 100; }
  return req;
}

async function trainReset() {
  const gen = ++tr.generation;
  for (const s of tr.sessions) if (s) work({ op: "free", id: s.id }).catch(() => {});
  tr.sessions = [];
  tr.history = state.train.racers.map(() => []);
  tr.boundary = state.train.racers.map(() => null);
  tr.points = null;
  try {
    const created = [];
    for (const r of state.train.racers) created.push(await work(sessionRequest(r)));
    if (gen !== tr.generation) { for (const c of created) work({ op: "free", id: c.id }); return; }
    tr.sessions = created;
    tr.info = created[0];
    tr.points = created[0].train_points ? { train: created[0].train_points, test: created[0].test_points } : null;
    $("t-info").textContent = `Network ${created[0].network}; ${created[0].train_size} training and ${created[0].test_size} test samples, ${created[0].iters_per_epoch} updates an epoch.`;
  } catch (e) {
    status(e.message, true);
    tr.playing = false;
    $("t-play").textContent = "▶ Train";
  }
  drawTrain();
}

async function trainStep() {
  if (!tr.sessions.length) return;
  const gen = tr.generation;
  const digits = state.train.data === "digits";
  const iters = digits ? 15 : 10;
  for (let i = 0; i < tr.sessions.length; i++) {
    const r = await work({ op: "step", id: tr.sessions[i].id, iters, boundary: !digits });
    if (gen !== tr.generation) return;
    tr.history[i].push({ epoch: r.epoch, loss: r.loss, train: r.train, test: r.test, diverged: r.diverged_at });
    if (r.boundary) tr.boundary[i] = r.boundary;
  }
  drawTrain();
}

async function trainPlay() {
  if (tr.playing) { tr.playing = false; $("t-play").textContent = "▶ Train"; return; }
  tr.playing = true;
  $("t-play").textContent = "⏸ Pause";
  while (tr.playing) {
    try {
      await trainStep();
    } catch (e) {
      status(e.message, true);
      tr.playing = false;
    }
    const h = tr.history[0];
    if (h && h.length && h[h.length - 1].epoch >= 500) tr.playing = false;
    await new Promise((r) => setTimeout(r, 0));
  }
  $("t-play").textContent = "▶ Train";
}

function drawCurves(canvas, aspect, series, yLabel, yFixed) {
  const { ctx, w, h } = fit(canvas, aspect);
  ctx.clearRect(0, 0, w, h);
  const m = { l: 48, r: 10, t: 22, b: 26 };
  let xMax = 0, yMin = Infinity, yMax = -Infinity;
  for (const s of series) for (const [x, y] of s.points) {
    if (!Number.isFinite(y)) continue;
    xMax = Math.max(xMax, x); yMin = Math.min(yMin, y); yMax = Math.max(yMax, y);
  }
  if (yFixed) { yMin = yFixed[0]; yMax = yFixed[1]; }
  if (!Number.isFinite(yMin)) { yMin = 0; yMax = 1; }
  if (yMax - yMin < 1e-9) yMax = yMin + 1;
  if (!yFixed) yMin = Math.min(0, yMin);
  xMax = Math.max(xMax, 1e-9);
  const X = (x) => m.l + (x / xMax) * (w - m.l - m.r);
  const Y = (y) => h - m.b - ((y - yMin) / (yMax - yMin)) * (h - m.t - m.b);
  ctx.strokeStyle = "#d9dee4";
  ctx.fillStyle = "#5b6672";
  ctx.font = "11px system-ui";
  ctx.lineWidth = 1;
  for (let k = 0; k <= 4; k++) {
    const y = yMin + ((yMax - yMin) * k) / 4;
    ctx.beginPath(); ctx.moveTo(m.l, Y(y)); ctx.lineTo(w - m.r, Y(y)); ctx.stroke();
    ctx.fillText(fmt(y), 4, Y(y) + 4);
  }
  ctx.fillText("epochs " + fmt(xMax), w - m.r - 70, h - 8);
  ctx.font = "12px system-ui";
  ctx.fillStyle = "#1d232b";
  ctx.fillText(yLabel, m.l, 14);
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = s.dash ? 1.5 : 2;
    ctx.setLineDash(s.dash ? [5, 4] : []);
    ctx.beginPath();
    let started = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y)) { started = false; continue; }
      const yy = Math.min(Math.max(y, yMin), yMax);
      if (!started) { ctx.moveTo(X(x), Y(yy)); started = true; } else ctx.lineTo(X(x), Y(yy));
    }
    ctx.stroke();
  }
  ctx.setLineDash([]);
}

function drawBoundaries() {
  const box = $("t-boundaries");
  const racers = state.train.racers;
  if (!tr.points) { box.textContent = ""; box.hidden = true; return; }
  box.hidden = false;
  while (box.children.length > racers.length) box.lastChild.remove();
  while (box.children.length < racers.length) {
    const f = document.createElement("figure");
    const c = document.createElement("canvas");
    const cap = document.createElement("figcaption");
    f.append(c, cap);
    box.append(f);
  }
  racers.forEach((r, i) => {
    const fig = box.children[i];
    const canvas = fig.firstChild;
    const { ctx, w, h } = fit(canvas, 1);
    const probs = tr.boundary[i];
    ctx.clearRect(0, 0, w, h);
    if (probs) {
      const g = Math.round(Math.sqrt(probs.length));
      const img = new ImageData(g, g);
      probs.forEach((p, k) => {
        // Class 1 blue, class 0 orange, white where the network is unsure.
        const t = Math.abs(p - 0.5) * 2;
        const c = p > 0.5 ? [31, 111, 235] : [230, 126, 34];
        img.data.set([255 + (c[0] - 255) * t * 0.55, 255 + (c[1] - 255) * t * 0.55, 255 + (c[2] - 255) * t * 0.55, 255], k * 4);
      });
      const off = document.createElement("canvas");
      off.width = g; off.height = g;
      off.getContext("2d").putImageData(img, 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(off, 0, 0, w, h);
    }
    const S = (v) => ((v + 6) / 12) * w;
    const T = (v) => h - ((v + 6) / 12) * h;
    for (const [set, filled] of [[tr.points.train, true], [tr.points.test, false]]) {
      for (const [x, y, l] of set) {
        ctx.beginPath();
        ctx.arc(S(x), T(y), 2.6, 0, 2 * Math.PI);
        const c = l === 1 ? "#1f6feb" : "#e67e22";
        if (filled) { ctx.fillStyle = c; ctx.fill(); ctx.strokeStyle = "#fff"; ctx.lineWidth = 0.6; ctx.stroke(); }
        else { ctx.strokeStyle = c; ctx.lineWidth = 1.2; ctx.stroke(); }
      }
    }
    canvas.style.borderColor = COLORS[i];
    const last = tr.history[i] && tr.history[i][tr.history[i].length - 1];
    fig.lastChild.textContent = `${r.optimizer}` + (last ? ` · test acc ${fmt(last.test.accuracy)} · loss ${fmt(last.test.loss)}` : "");
  });
}

function drawTrain() {
  if ($("train").hidden) return;
  drawBoundaries();
  const racers = state.train.racers;
  const loss = [], acc = [];
  racers.forEach((r, i) => {
    const h = tr.history[i] || [];
    loss.push({ color: COLORS[i], points: h.map((e) => [e.epoch, e.train.loss ?? NaN]) });
    loss.push({ color: COLORS[i], dash: true, points: h.map((e) => [e.epoch, e.test.loss ?? NaN]) });
    acc.push({ color: COLORS[i], points: h.map((e) => [e.epoch, e.test.accuracy]) });
    acc.push({ color: COLORS[i], dash: true, points: h.map((e) => [e.epoch, e.train.accuracy]) });
  });
  drawCurves($("t-loss"), 0.36, loss, "loss (solid: train, dashed: test)");
  drawCurves($("t-acc"), 0.3, acc, "accuracy (solid: test, dashed: train)", [0, 1]);
  drawLegend($("t-legend"), racers);
}

function trainControls() {
  const t = state.train;
  $("t-data").value = t.data;
  $("t-noise").value = t.noise; $("t-noise-out").textContent = t.noise + " %";
  $("t-test").value = t.test; $("t-test-out").textContent = t.test + " %";
  $("t-hidden").value = t.hidden;
  $("t-activation").value = t.activation;
  $("t-init").value = t.init;
  $("t-std").value = t.std;
  $("t-batch").value = t.batch;
  $("t-bn").checked = t.bn;
  $("t-dropout").value = t.dropout; $("t-dropout-out").textContent = t.dropout;
  $("t-wd").value = t.wd;
  $("t-preset").value = t.preset;
  $("t-seed").value = t.seed;
  for (const el of document.querySelectorAll(".toy")) el.hidden = t.data === "digits";
  document.querySelector(".init-std").hidden = t.init !== "std";
  const box = $("t-racers");
  box.textContent = "";
  t.racers.forEach((r, i) => racerCard(box, r, i, () => trainChanged(),
    t.racers.length > 1 ? () => { t.racers.splice(i, 1); trainControls(); trainChanged(); } : null));
  if (t.racers.length < 4) addButton(box, "+ optimizer", () => { t.racers.push(nextRacer(t.racers, TRAIN_EXTRA)); trainControls(); trainChanged(); });
}

let histTimer = null;
function trainChanged(histogramsToo) {
  saveUrl();
  trainReset();
  if (histogramsToo) { clearTimeout(histTimer); histTimer = setTimeout(trainHistograms, 50); }
}

function wireTrain() {
  const t = state.train;
  const on = (id, key, conv, hist) => {
    $(id).addEventListener($(id).type === "range" || $(id).type === "text" || $(id).type === "number" ? "input" : "change", (e) => {
      const v = e.target.type === "checkbox" ? e.target.checked : conv(e.target.value);
      if (v === undefined) return;
      t[key] = v;
      trainControls();
      trainChanged(hist);
    });
  };
  const n = (v) => num(v);
  on("t-data", "data", String);
  on("t-noise", "noise", n);
  on("t-test", "test", n);
  on("t-hidden", "hidden", String);
  on("t-activation", "activation", String, true);
  on("t-init", "init", String, true);
  on("t-std", "std", n, true);
  on("t-batch", "batch", n);
  on("t-bn", "bn", Boolean);
  on("t-dropout", "dropout", n);
  on("t-wd", "wd", n);
  on("t-preset", "preset", String);
  on("t-seed", "seed", n);
  $("t-play").onclick = trainPlay;
  $("t-step").onclick = () => { tr.playing = false; trainStep().catch((e) => status(e.message, true)); };
  $("t-reset").onclick = () => { tr.playing = false; trainReset(); };
}

// ---------------------------------------------------------------- initialisation histograms
function drawHistogram(canvas, layer, range, title) {
  const { ctx, w, h } = fit(canvas, 0.85);
  ctx.clearRect(0, 0, w, h);
  const m = { l: 34, r: 6, t: layer.zeros > 0 ? 34 : 20, b: 18 };
  const counts = layer.counts;
  const others = counts.map((c, k) => (k === 0 ? c - layer.zeros : c));
  // ReLU's exact zeros (all in the first bin) would flatten every other bar: clip the axis at
  // the tallest bar without them, as the book's figure does, and print their number.
  const clip = layer.zeros > 0;
  const top = Math.max(...(clip ? others : counts), 1) * 1.1;
  const clipped = clip && counts[0] > top;
  const bw = (w - m.l - m.r) / counts.length;
  const Y = (c) => h - m.b - (Math.min(c, top) / top) * (h - m.t - m.b);
  ctx.fillStyle = "#5b6672";
  ctx.font = "10px system-ui";
  ctx.fillText(fmt(top), 2, m.t + 4);
  ctx.fillText("0", m.l - 10, h - m.b);
  ctx.fillText(String(range[0]), m.l, h - 4);
  ctx.fillText(String(range[1]), w - m.r - 10, h - 4);
  ctx.fillStyle = "#1f6feb";
  counts.forEach((c, k) => ctx.fillRect(m.l + k * bw + 0.5, Y(c), bw - 1, h - m.b - Y(c)));
  if (clipped) {
    // A break in the clipped bar.
    ctx.fillStyle = "#fff";
    ctx.fillRect(m.l, m.t + 5, bw, 3);
  }
  ctx.fillStyle = "#1d232b";
  ctx.font = "12px system-ui";
  ctx.fillText(title, 4, 13);
  if (layer.zeros > 0) {
    ctx.font = "11px system-ui";
    ctx.fillStyle = "#b42318";
    ctx.fillText(`zeros: ${layer.zeros.toLocaleString("en")}${clipped ? " (bar clipped)" : ""}`, 4, 27);
  }
}

async function histograms(box, init, activation, layers) {
  try {
    const r = await work({ op: "histograms", init, activation, layers });
    box.textContent = "";
    r.layers.forEach((l, i) => {
      const c = document.createElement("canvas");
      c.setAttribute("aria-label", `layer ${i + 1} activations`);
      box.append(c);
      drawHistogram(c, l, r.range, `layer ${i + 1} · std ${fmt(l.std)}`);
    });
    box.dataset.zeros = JSON.stringify(r.layers.map((l) => l.zeros));
  } catch (e) {
    status(e.message, true);
  }
}

function trainHistograms() {
  const t = state.train;
  if ($("train").hidden) return;
  const init = t.init === "std" ? String(t.std) : (t.init === "xavier" ? "book-xavier" : t.init);
  return histograms($("t-hist"), init, t.activation, 5);
}

function initTab() {
  const s = state.init;
  $("i-init").value = s.init;
  $("i-activation").value = s.activation;
  $("i-layers").value = s.layers;
  const init = s.init === "xavier" ? "book-xavier" : s.init;
  if (!$("init").hidden) return histograms($("i-hist"), init, s.activation, s.layers);
}

function wireInit() {
  $("i-init").onchange = (e) => { state.init.init = e.target.value; saveUrl(); initTab(); };
  $("i-activation").onchange = (e) => { state.init.activation = e.target.value; saveUrl(); initTab(); };
  $("i-layers").oninput = (e) => { const v = num(e.target.value); if (v >= 1 && v <= 10) { state.init.layers = v; saveUrl(); initTab(); } };
}

function redrawAll() {
  if (state.tab === "race") drawRace();
  if (state.tab === "train") { drawTrain(); trainHistograms(); }
  if (state.tab === "init") initTab();
}

// ---------------------------------------------------------------- hooks for scripts and tests
async function trainHook(opts) {
  const { epochs = 10, ...rest } = opts || {};
  const req = { op: "session", data: "digits", ...rest };
  const t0 = performance.now();
  const s = await work(req);
  const loss = [], testLoss = [];
  let last = null;
  try {
    for (let e = 0; e < epochs; e++) {
      last = await work({ op: "step", id: s.id, iters: s.iters_per_epoch });
      loss.push(last.loss);
      testLoss.push(last.test.loss);
    }
  } finally {
    work({ op: "free", id: s.id }).catch(() => {});
  }
  return {
    train_acc: last.train.accuracy, test_acc: last.test.accuracy, loss, test_loss: testLoss,
    network: s.network, seconds: (performance.now() - t0) / 1000,
  };
}

let readyResolve, readyReject;
window.optimlab = {
  ready: new Promise((res, rej) => { readyResolve = res; readyReject = rej; }),
  // The path of one optimizer on a 2-D function, in f64 unless `dtype` says otherwise; the
  // same numbers as `optimlab trajectory … --dtype f64 --json`.
  trajectory(opts) {
    const rep = lib({ op: "trajectory", dtype: "f64", ...opts });
    return { x: rep.positions.map((p) => p[0]), y: rep.positions.map((p) => p[1]), f: rep.values };
  },
  train: trainHook,
  // What the race shows now (for tests): the step and each path's current point.
  raceState() {
    return { k: race.k, playing: race.playing, heads: race.paths.map((p) => p.points[Math.min(race.k, p.points.length - 1)]) };
  },
  trainState() {
    return { sessions: tr.sessions.length, history: tr.history, playing: tr.playing };
  },
};

window.addEventListener("resize", () => redrawAll());

loadUrl();
wireRace();
wireTrain();
wireInit();
for (const b of document.querySelectorAll("#tabs button")) b.onclick = () => showTab(b.dataset.tab);
const t0 = performance.now();
boot().then((bytes) => {
  raceControls();
  trainControls();
  computeRace();
  race.k = state.race.steps;
  showTab(state.tab);
  trainReset();
  const ms = performance.now() - t0;
  status(`Ready: the library (${(bytes / 1e6).toFixed(2)} MB of WebAssembly) loaded in ${ms.toFixed(0)} ms.`);
  window.optimlab.loadMs = ms;
  readyResolve();
}).catch((e) => {
  status("The library could not be loaded: " + e.message, true);
  readyReject(e);
});
