// barenet serve: draw on the pad, and the page asks POST /api/predict while you draw (debounced).
// The pad is white ink on black, like MNIST; the server prepares it exactly as `barenet predict` does.
"use strict";

const DEBOUNCE_MS = 120;
const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d");
const seen = $("seen").getContext("2d");
const state = { drawing: false, last: null, version: 0, inFlight: false, queued: null, timer: 0, hasInk: false };

// ----- the model --------------------------------------------------------------------
async function loadModel() {
  const info = await (await fetch("/api/model")).json();
  const accuracy = info.test_accuracy == null ? "–" : `${(info.test_accuracy * 100).toFixed(2)}%`;
  $("model-pill").innerHTML = "";
  $("model-pill").append(bold(info.name), ` · ${info.dataset || "unknown data"} · ${accuracy} test accuracy`);
  $("m-name").textContent = info.name;
  $("m-accuracy").textContent = accuracy;
  $("m-dataset").textContent = info.dataset || "not recorded";
  $("m-params").textContent = info.parameters.toLocaleString("en");
  $("model-file").textContent = info.file;
  $("version").textContent = info.barenet_version;
  $("m-sizes").replaceChildren(...info.sizes.flatMap((size, i) => [
    ...(i ? [span("arrow", "→")] : []), span("size", String(size))]));
  $("m-layers").replaceChildren(...info.layers.map((layer) => Object.assign(document.createElement("li"),
    { textContent: layer })));
  buildBars(info.classes);
}

function bold(text) { return Object.assign(document.createElement("b"), { textContent: text }); }
function span(cls, text) { return Object.assign(document.createElement("span"), { className: cls, textContent: text }); }

function buildBars(classes) {
  $("bars").replaceChildren(...classes.map((name) => {
    const li = document.createElement("li");
    li.append(span("label", name), Object.assign(document.createElement("div"), { className: "track" }),
      span("pct", ""));
    li.querySelector(".track").append(Object.assign(document.createElement("div"), { className: "fill" }));
    return li;
  }));
}

// ----- drawing ----------------------------------------------------------------------
function clearPad() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, pad.width, pad.height);
  state.hasInk = false;
  $("placeholder").classList.remove("hidden");
  bump();
  showResult(null);
  setStatus("waiting for ink");
}

function point(event) {
  const rect = pad.getBoundingClientRect();
  return { x: (event.clientX - rect.left) * pad.width / rect.width, y: (event.clientY - rect.top) * pad.height / rect.height };
}

function strokeTo(p) {
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = Number($("stroke").value);
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(state.last.x, state.last.y);
  ctx.lineTo(p.x, p.y);
  ctx.stroke();
  state.last = p;
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  state.drawing = true;
  state.last = point(event);
  if (!state.hasInk) {  // the first stroke after a clear or a photo starts on a black pad
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, pad.width, pad.height);
    $("placeholder").classList.add("hidden");
  }
  state.hasInk = true;
  strokeTo(point(event));  // a dot for a tap
  changed(false);
});

pad.addEventListener("pointermove", (event) => {
  if (!state.drawing) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) strokeTo(point(e));
  changed(false);
});

for (const name of ["pointerup", "pointercancel"]) {
  pad.addEventListener(name, () => {
    if (!state.drawing) return;
    state.drawing = false;
    changed(true);
  });
}

// ----- asking the server ------------------------------------------------------------
function bump() { state.version += 1; pad.dataset.version = String(state.version); }

function changed(now) {
  bump();
  clearTimeout(state.timer);
  state.timer = setTimeout(() => pad.toBlob((blob) => request(blob, state.version), "image/png"), now ? 0 : DEBOUNCE_MS);
}

async function request(blob, version) {
  if (state.inFlight) { state.queued = [blob, version]; return; }  // only the newest waiting drawing is sent
  state.inFlight = true;
  setStatus("reading…");
  try {
    const form = new FormData();
    form.append("file", blob, "digit.png");
    const response = await fetch("/api/predict", { method: "POST", body: form });
    const body = await response.json();
    if (version === state.version || !state.queued) {
      if (response.ok) { showResult(body); setStatus("live"); } else { showResult(null); setStatus(body.error, true); }
      $("result").dataset.version = String(version);
    }
  } catch (error) {
    setStatus(`the server did not answer (${error.message})`, true);
  } finally {
    state.inFlight = false;
    const next = state.queued;
    state.queued = null;
    if (next) request(...next);
  }
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function showResult(result) {
  const rows = [...$("bars").children];
  rows.forEach((li, k) => {
    const p = result ? result.probabilities[k] : 0;
    li.querySelector(".fill").style.setProperty("--p", String(p));
    li.querySelector(".pct").textContent = result ? `${(p * 100).toFixed(1)}%` : "";
    li.classList.toggle("winner", Boolean(result) && k === result.class);
  });
  $("digit").textContent = result ? result.label : "·";
  $("confidence").textContent = result ? `${(result.probabilities[result.class] * 100).toFixed(1)}%` : "\u00a0";
  drawSeen(result ? result.preprocessed : null);
}

function drawSeen(pixels) {
  const image = seen.createImageData(28, 28);
  for (let i = 0; i < 28 * 28; i += 1) {
    const v = pixels ? pixels[Math.floor(i / 28)][i % 28] : 0;
    image.data.set([v, v, v, 255], i * 4);
  }
  seen.putImageData(image, 0, 0);
}

// ----- photos: the file picker and drag-and-drop ------------------------------------
async function readPhoto(file) {
  if (!file || !file.type.startsWith("image/")) { setStatus("that is not an image file", true); return; }
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(pad.width / bitmap.width, pad.height / bitmap.height);
    const w = bitmap.width * scale, h = bitmap.height * scale;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, pad.width, pad.height);
    ctx.drawImage(bitmap, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
  } catch (error) {
    setStatus("the browser cannot show this image; sending it anyway", true);
  }
  $("placeholder").classList.add("hidden");
  state.hasInk = false;  // drawing again starts on a clean pad
  bump();
  request(file, state.version);
}

$("file").addEventListener("change", (event) => { readPhoto(event.target.files[0]); event.target.value = ""; });
window.addEventListener("dragover", (event) => { event.preventDefault(); document.body.classList.add("dragging"); });
window.addEventListener("dragleave", (event) => {
  if (event.relatedTarget === null) document.body.classList.remove("dragging");
});
window.addEventListener("drop", (event) => {
  event.preventDefault();
  document.body.classList.remove("dragging");
  readPhoto(event.dataTransfer.files[0]);
});

// ----- controls ---------------------------------------------------------------------
$("stroke").addEventListener("input", () => { $("stroke-value").textContent = $("stroke").value; });
$("clear").addEventListener("click", clearPad);
window.addEventListener("keydown", (event) => {
  if (event.key === "Escape" || (event.key === "c" && !event.ctrlKey && !event.metaKey)) clearPad();
});

clearPad();
loadModel().catch((error) => setStatus(`could not load the model (${error.message})`, true));
