// The page's logic: uploads and recording, job polling, and the live detector in onnxruntime-web.
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 60;
const KEYS = ["C", "G", "D", "A", "E", "B", "F#", "F", "Bb", "Eb", "Ab", "Db"];
const MINOR = ["A", "E", "B", "F#", "C#", "G#", "D", "G", "C", "F", "Bb", "Eb"];
const state = { file: null, job: null, result: null, timings: {}, info: null };
window.tunesmith = state;   // for tests and the curious

// ------------------------------------------------------------------ helpers
function showError(el, msg) { el.textContent = msg; el.hidden = !msg; }

function progress(box, fraction, stage) {
  box.hidden = false;
  box.querySelector(".fill").style.width = Math.round(100 * fraction) + "%";
  box.querySelector(".stage").textContent = stage;
}

async function post(url, form) {
  const r = await fetch(url, { method: "POST", body: form });
  const body = await r.json().catch(() => ({ detail: `server answered ${r.status}` }));
  if (!r.ok) throw new Error(typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));
  return body;
}

// Poll a job until it ends; `onUpdate(job)` sees every state (partial results included).
async function follow(job, onUpdate) {
  for (;;) {
    onUpdate(job);
    if (job.status === "done") return job;
    if (job.status === "error") throw new Error(job.error);
    await new Promise((r) => setTimeout(r, POLL_MS));
    const r = await fetch(job.url);
    if (!r.ok) throw new Error(`job lost (${r.status})`);
    job = await r.json();
  }
}

function downloads(box, files, labels) {
  box.replaceChildren();
  for (const [name, label] of labels) {
    if (!files[name]) continue;
    const a = document.createElement("a");
    a.href = files[name]; a.download = name; a.textContent = "⬇ " + label;
    box.append(a);
  }
}

// Move a piano roll's playhead while an <audio> plays.
function bindPlayhead(audio, setPlayhead, offset = 0) {
  let raf = 0;
  const tick = () => { setPlayhead(audio.currentTime + offset); if (!audio.paused) raf = requestAnimationFrame(tick); };
  audio.onplay = () => { cancelAnimationFrame(raf); tick(); };
  audio.onpause = audio.onended = () => { cancelAnimationFrame(raf); setPlayhead(null); };
}

// ------------------------------------------------------------------ 1. the take
async function transcribe(file) {
  state.file = file; state.timings = { start: performance.now() };
  showError($("error"), "");
  $("play-original").src = URL.createObjectURL(file);
  const form = new FormData();
  form.append("file", file, file.name || "recording.wav");
  if ($("instrument").value) form.append("instrument", $("instrument").value);
  progress($("progress"), 0.02, "uploading…");
  let notesShown = false, scoreStarted = false;
  $("score").dataset.rendered = "";
  try {
    const job = await follow(await post("/api/transcribe", form), (j) => {
      progress($("progress"), j.progress, j.stage);
      if (!notesShown && j.result && j.result.notes) { notesShown = true; showNotes(j.result); }
      if (!scoreStarted && j.files["notes.musicxml"]) {   // the score is written before the notes are rendered
        scoreStarted = true; drawScore($("score"), j.files["notes.musicxml"]);
      }
    });
    state.job = job; state.result = job.result;
    if (!notesShown) showNotes(job.result);
    finishNotes(job, scoreStarted);
    progress($("progress"), 1, `done: ${job.result.notes.length} notes in ${job.result.seconds.toFixed(1)} s`);
  } catch (e) {
    showError($("error"), e.message);
    $("progress").hidden = true;
  }
}

function showNotes(res) {
  $("notes").hidden = false;
  const meta = [`${res.notes.length} notes`, res.tempo && `${Math.round(res.tempo)} qpm`,
    res.time_signature && res.time_signature.join("/"), res.key, `A4 = ${res.track.a4_hz} Hz`].filter(Boolean);
  $("notes-meta").textContent = `${res.name}: ${meta.join(" · ")}`;
  showError($("notes-warn"), (res.warnings || []).join("; "));
  Draw.spectrogram($("spectrogram"), res);
  state.setPlayhead = Draw.pianoRoll($("pianoroll"), res.notes, { rgb: "34,211,238", end: res.duration_s });
  state.timings.notes = performance.now();
  document.body.dataset.notesShown = String(res.notes.length);
}

async function finishNotes(job, scoreStarted) {
  const files = job.files;
  downloads($("downloads"), files, [["notes.mid", "MIDI"], ["notes.musicxml", "MusicXML"], ["notes.csv", "CSV"],
    ["notes.wav", "rendered WAV"]]);
  $("play-notes").src = files["notes.wav"] || "";
  bindPlayhead($("play-notes"), state.setPlayhead);
  bindPlayhead($("play-original"), state.setPlayhead);
  for (const id of ["compose", "convert"]) $(id).hidden = false;
  $("voices-go").disabled = false;
  if (scoreStarted) return;
  if (files["notes.musicxml"]) await drawScore($("score"), files["notes.musicxml"]);
  else $("score").innerHTML = '<p class="muted">No notes, so no score.</p>';
}

async function drawScore(box, url) {
  try {
    const xml = await (await fetch(url)).text();
    box.replaceChildren();
    const osmd = new opensheetmusicdisplay.OpenSheetMusicDisplay(box, {
      backend: "svg", autoResize: true, drawTitle: false, drawPartNames: false, drawingParameters: "compacttight" });
    await osmd.load(xml);
    osmd.render();
    box.dataset.rendered = "1";
    state.timings.score = performance.now();
  } catch (e) {
    box.innerHTML = `<p class="error">The score could not be drawn: ${e.message}</p>`;
  }
}

function pick(files) { if (files && files.length) transcribe(files[0]); }
$("file").onchange = (e) => pick(e.target.files);
const drop = $("drop");
drop.ondragover = (e) => { e.preventDefault(); drop.classList.add("over"); };
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (e) => { e.preventDefault(); drop.classList.remove("over"); pick(e.dataTransfer.files); };
drop.onkeydown = (e) => { if (e.key === "Enter" || e.key === " ") $("file").click(); };

// ------------------------------------------------------------------ microphone capture (shared)
// Float32 blocks from the microphone through an AudioWorklet, at the context's sample rate.
async function openMic(onBlock, sampleRate) {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false,
    noiseSuppression: false, autoGainControl: false, channelCount: 1 } });
  let ctx;
  try { ctx = new AudioContext(sampleRate ? { sampleRate } : {}); } catch (e) { ctx = new AudioContext(); }
  await ctx.audioWorklet.addModule("/static/tap-worklet.js");
  const src = ctx.createMediaStreamSource(stream);
  const tap = new AudioWorkletNode(ctx, "tap", { numberOfInputs: 1, numberOfOutputs: 0 });
  tap.port.onmessage = (e) => onBlock(e.data, performance.now());
  src.connect(tap);
  return { ctx, close: () => { stream.getTracks().forEach((t) => t.stop()); ctx.close(); } };
}

function wavFile(chunks, sr, name) {
  const n = chunks.reduce((a, c) => a + c.length, 0), buf = new ArrayBuffer(44 + 2 * n), v = new DataView(buf);
  const str = (o, s) => [...s].forEach((ch, i) => v.setUint8(o + i, ch.charCodeAt(0)));
  str(0, "RIFF"); v.setUint32(4, 36 + 2 * n, true); str(8, "WAVE"); str(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true); v.setUint32(24, sr, true);
  v.setUint32(28, 2 * sr, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true); str(36, "data");
  v.setUint32(40, 2 * n, true);
  let o = 44;
  for (const c of chunks) for (let i = 0; i < c.length; i++, o += 2) v.setInt16(o, Math.max(-1, Math.min(1, c[i])) * 32767, true);
  return new File([buf], name, { type: "audio/wav" });
}

let recorder = null;
$("record").onclick = async () => {
  const btn = $("record");
  if (recorder) {
    const { mic, chunks } = recorder; recorder = null;
    const sr = mic.ctx.sampleRate; mic.close();
    btn.classList.remove("recording"); btn.textContent = "● Record from the microphone";
    transcribe(wavFile(chunks, sr, "recording.wav"));
    return;
  }
  try {
    const chunks = [];
    const mic = await openMic((block) => chunks.push(block));
    recorder = { mic, chunks };
    btn.classList.add("recording"); btn.textContent = "■ Stop and transcribe";
  } catch (e) { showError($("error"), `microphone: ${e.message}`); }
};

// ------------------------------------------------------------------ 3. continue this melody
$("temperature").oninput = (e) => { $("temperature-out").textContent = (+e.target.value).toFixed(2); };
$("compose-form").onsubmit = async (e) => {
  e.preventDefault();
  if (!state.job) return;
  const form = new FormData(e.target);
  for (const [k, v] of [...form.entries()]) if (v === "") form.delete(k);
  form.append("primer_job", state.job.id);
  showError($("compose-error"), "");
  try {
    const job = await follow(await post("/api/generate", form), (j) => progress($("compose-progress"), j.progress, j.stage));
    const res = job.result;
    $("compose-result").hidden = false;
    $("compose-meta").textContent = `${res.primer_notes} notes of the take (grey), then ${res.notes.length - res.primer_notes} new ones · ${res.key} · seed ${res.seed} · temperature ${res.temperature}`;
    const setHead = Draw.pianoRoll($("compose-roll"), res.notes, { highlight: (n) => n.primer });
    $("play-compose").src = job.files["continuation.wav"] || "";
    bindPlayhead($("play-compose"), setHead);
    downloads($("compose-downloads"), job.files, [["continuation.mid", "MIDI"], ["continuation.musicxml", "MusicXML"],
      ["continuation.csv", "CSV"], ["continuation.wav", "WAV"]]);
    progress($("compose-progress"), 1, `done in ${res.seconds.toFixed(1)} s`);
  } catch (err) { showError($("compose-error"), err.message); $("compose-progress").hidden = true; }
};

// ------------------------------------------------------------------ 4. convert
$("convert-go").onclick = async () => {
  if (!state.file) return;
  const form = new FormData(); form.append("file", state.file, state.file.name || "take.wav");
  showError($("convert-error"), "");
  try {
    const job = await follow(await post("/api/convert", form), (j) => progress($("convert-progress"), j.progress, j.stage));
    $("convert-result").hidden = false;
    Draw.image($("convert-before"), job.result.before, job.result.duration_s);
    Draw.image($("convert-after"), job.result.after, job.result.duration_s);
    $("play-before").src = job.files["input.wav"]; $("play-after").src = job.files["converted.wav"];
    progress($("convert-progress"), 1, `done in ${job.result.seconds.toFixed(1)} s`);
  } catch (err) { showError($("convert-error"), err.message); $("convert-progress").hidden = true; }
};

// ------------------------------------------------------------------ 5. one voice or several
$("voices-go").onclick = async () => {
  if (!state.file) return;
  const form = new FormData(); form.append("file", state.file, state.file.name || "take.wav");
  showError($("voices-error"), "");
  try {
    const job = await follow(await post("/api/voices", form), (j) => progress($("voices-progress"), j.progress, j.stage));
    const r = job.result;
    const several = r.windows.filter((w) => w.label === "several").length;
    $("voices-summary").textContent = `${r.label === "one" ? "One voice" : "Several voices"} (p(several) = ${r.p_several.toFixed(2)}); ${several} of ${r.windows.length} windows of ${r.window_s} s sound like several.`;
    Draw.timeline($("voices-timeline"), r.windows, r.duration_s);
    $("voices-progress").hidden = true;
  } catch (err) { showError($("voices-error"), err.message); $("voices-progress").hidden = true; }
};

// The live detector: the ONNX graph takes raw audio (its STFT is inside, as DFT convolutions), so the page
// only keeps the latest window of samples at the model's rate and runs it once per second of new audio.
const live = { running: false, decisions: [] };
window.liveDecisions = () => live.decisions.slice();   // for tests: {p, latency} per decision
$("live-go").onclick = async () => {
  if (live.running) { stopLive(); return; }
  showError($("live-error"), "");
  try {
    const meta = state.info.voices;
    if (meta.error) throw new Error(meta.error);
    if (!live.session) {
      ort.env.wasm.wasmPaths = "/static/vendor/onnxruntime-web/";
      ort.env.wasm.numThreads = 1;
      live.session = await ort.InferenceSession.create("/api/models/voices.onnx", { executionProviders: ["wasm"] });
    }
    const N = meta.window_samples;
    live.ring = new Float32Array(N); live.fresh = 0; live.busy = false; live.decisions = [];
    live.mic = await openMic((block, tReady) => onLiveBlock(block, tReady, meta), meta.sample_rate);
    if (live.mic.ctx.sampleRate !== meta.sample_rate) {
      stopLive();
      throw new Error(`this browser records at ${live.mic.ctx.sampleRate} Hz and cannot resample to ${meta.sample_rate} Hz`);
    }
    live.running = true; $("live-go").textContent = "Stop listening"; $("live").dataset.running = "1";
  } catch (e) { showError($("live-error"), `live detector: ${e.message}`); }
};

function stopLive() {
  if (live.mic) live.mic.close();
  live.mic = null; live.running = false; $("live-go").textContent = "Start listening"; $("live").dataset.running = "0";
}

async function onLiveBlock(block, tReady, meta) {
  const ring = live.ring, n = Math.min(block.length, ring.length);
  ring.copyWithin(0, n); ring.set(block.subarray(block.length - n), ring.length - n);
  live.fresh += block.length;
  if (live.fresh < meta.sample_rate * meta.decide_every_s || live.busy) return;
  live.fresh = 0; live.busy = true;
  try {
    const input = new ort.Tensor("float32", ring.slice(), [1, ring.length]);
    const out = await live.session.run({ audio: input });
    const p = out.probabilities.data[meta.classes.indexOf("several")];
    const latency = performance.now() - tReady;
    live.decisions.push({ p, latency });
    const label = p >= 0.5 ? "several" : "one";
    $("live-label").textContent = label === "one" ? "one voice" : "several";
    $("live-label").className = "big " + label;
    $("live-p").value = p; $("live-pv").textContent = p.toFixed(2);
    $("live-latency").textContent = `${latency.toFixed(0)} ms`;
    $("live-count").textContent = live.decisions.length;
    $("live").dataset.decisions = live.decisions.length; $("live").dataset.label = label;
    Draw.strip($("live-strip"), live.decisions);
  } catch (e) { showError($("live-error"), `live detector: ${e.message}`); stopLive(); }
  finally { live.busy = false; }
}

// ------------------------------------------------------------------ start-up
(async () => {
  Draw.strip($("live-strip"), []);
  Draw.timeline($("voices-timeline"), null, 1);
  const keys = $("key");
  KEYS.forEach((k) => keys.add(new Option(`${k} major`, `${k} major`)));
  MINOR.forEach((k) => keys.add(new Option(`${k} minor`, `${k} minor`)));
  try {
    state.info = await (await fetch("/api/info")).json();
    for (const name of state.info.instruments) $("instrument").add(new Option(name.replace(/_/g, " "), name));
  } catch (e) { showError($("error"), `cannot reach the server: ${e.message}`); }
  document.body.dataset.ready = "1";
})();
