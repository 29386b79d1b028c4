// Drawing on canvases: spectrograms (8-bit images from the server), note boxes, the pitch track,
// an interactive piano roll, and decision timelines. No library; sizes follow the canvas's CSS width.
"use strict";

const Draw = (() => {
  const NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
  const noteName = (m) => NAMES[((m % 12) + 12) % 12] + (Math.floor(m / 12) - 1);

  // A perceptual dark-to-bright ramp (black, purple, orange, pale yellow), 256 RGB entries.
  const STOPS = [[0, 0, 0, 4], [0.25, 80, 18, 123], [0.5, 182, 54, 121], [0.75, 251, 136, 97], [1, 252, 253, 191]];
  const LUT = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = i / 255;
    let k = 0;
    while (k < STOPS.length - 2 && x > STOPS[k + 1][0]) k++;
    const [x0, r0, g0, b0] = STOPS[k], [x1, r1, g1, b1] = STOPS[k + 1];
    const f = (x - x0) / (x1 - x0);
    LUT[3 * i] = r0 + f * (r1 - r0); LUT[3 * i + 1] = g0 + f * (g1 - g0); LUT[3 * i + 2] = b0 + f * (b1 - b0);
  }

  // Size the canvas's backing store to its displayed size (sharp on high-DPI screens).
  function fit(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(50, Math.round(canvas.clientWidth * dpr));
    const h = Math.round((canvas.dataset.h ? +canvas.dataset.h : (canvas.dataset.h = canvas.height)) * dpr);
    canvas.width = w; canvas.height = h;
    canvas.style.height = (h / dpr) + "px";
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx, w: w / dpr, h: h / dpr };
  }

  // base64 8-bit image (rows low → high) → an offscreen canvas, flipped so that high rows are on top.
  function imageCanvas(img) {
    const bytes = Uint8Array.from(atob(img.data), (c) => c.charCodeAt(0));
    const off = document.createElement("canvas");
    off.width = img.cols; off.height = img.rows;
    const id = off.getContext("2d").createImageData(img.cols, img.rows);
    for (let r = 0; r < img.rows; r++) {
      const y = img.rows - 1 - r;
      for (let c = 0; c < img.cols; c++) {
        const v = bytes[r * img.cols + c], o = 4 * (y * img.cols + c);
        id.data[o] = LUT[3 * v]; id.data[o + 1] = LUT[3 * v + 1]; id.data[o + 2] = LUT[3 * v + 2]; id.data[o + 3] = 255;
      }
    }
    off.getContext("2d").putImageData(id, 0, 0);
    return off;
  }

  const PAD = { l: 44, r: 8, t: 8, b: 22 };

  function axes(ctx, w, h, t1, lo, hi, labelled) {
    ctx.font = "11px DejaVu Sans, sans-serif"; ctx.fillStyle = "#aab"; ctx.strokeStyle = "rgba(255,255,255,.08)";
    const step = t1 > 60 ? 10 : t1 > 20 ? 5 : t1 > 8 ? 2 : 1;
    ctx.textAlign = "center";
    for (let t = 0; t <= t1 + 1e-9; t += step) {
      const x = PAD.l + (w - PAD.l - PAD.r) * t / t1;
      ctx.fillText(t + " s", x, h - 6);
      ctx.beginPath(); ctx.moveTo(x, PAD.t); ctx.lineTo(x, h - PAD.b); ctx.stroke();
    }
    ctx.textAlign = "right";
    let lastY = Infinity;
    for (let m = Math.ceil(lo); m <= hi; m++) {
      if (((m % 12) + 12) % 12 !== 0 && !(labelled && labelled.has(m))) continue;
      const y = PAD.t + (h - PAD.t - PAD.b) * (1 - (m - lo) / (hi - lo));
      if (lastY - y < 12) continue;            // labels closer than a line of text would overlap
      lastY = y;
      ctx.fillText(noteName(m), PAD.l - 5, y + 4);
      ctx.beginPath(); ctx.moveTo(PAD.l, y); ctx.lineTo(w - PAD.r, y); ctx.stroke();
    }
  }

  function mapper(w, h, t1, lo, hi) {
    return {
      x: (t) => PAD.l + (w - PAD.l - PAD.r) * t / t1,
      y: (m) => PAD.t + (h - PAD.t - PAD.b) * (1 - (m - lo) / (hi - lo)),
      t: (x) => (x - PAD.l) / (w - PAD.l - PAD.r) * t1,
      m: (y) => lo + (1 - (y - PAD.t) / (h - PAD.t - PAD.b)) * (hi - lo),
    };
  }

  // The transcription picture: log-frequency spectrogram, f0 (lime) and note boxes (cyan).
  function spectrogram(canvas, res) {
    const { ctx, w, h } = fit(canvas);
    const tr = res.track, sp = tr.spectrogram;
    ctx.clearRect(0, 0, w, h);
    const lo = sp ? sp.midi_low : 36, hi = sp ? sp.midi_high : 96;
    const t1 = Math.max(0.5, sp ? Math.min(sp.seconds, res.duration_s || sp.seconds) : res.duration_s);
    const M = mapper(w, h, t1, lo, hi);
    if (sp && sp.cols) {
      const off = imageCanvas(sp);
      const shownCols = Math.min(sp.cols, Math.ceil(t1 / (tr.hop_s * sp.pool)));
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(off, 0, 0, shownCols, sp.rows, PAD.l, PAD.t, w - PAD.l - PAD.r, h - PAD.t - PAD.b);
    }
    axes(ctx, w, h, t1, lo, hi);
    ctx.save();
    ctx.beginPath(); ctx.rect(PAD.l, PAD.t, w - PAD.l - PAD.r, h - PAD.t - PAD.b); ctx.clip();
    ctx.strokeStyle = "#22d3ee"; ctx.fillStyle = "rgba(34,211,238,.28)"; ctx.lineWidth = 1.5;
    for (const n of res.notes) {   // a box one semitone high, centred on the note, widened a little to be seen
      const x = M.x(n.onset), y = M.y(n.pitch + 0.8), bw = Math.max(2, M.x(n.offset) - x), bh = M.y(n.pitch - 0.8) - y;
      ctx.fillRect(x, y, bw, bh); ctx.strokeRect(x, y, bw, bh);
    }
    ctx.strokeStyle = "#a3e635"; ctx.lineWidth = 1.4; ctx.beginPath();
    let pen = false;
    tr.f0.midi.forEach((m, i) => {
      if (m === null) { pen = false; return; }
      const x = M.x(i * tr.f0.step_s), y = M.y(m);
      if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      pen = true;
    });
    ctx.stroke();
    ctx.restore();
    canvas.dataset.drawn = res.notes.length;
  }

  // An interactive piano roll: one bar per note; hover shows name and times. `opts.highlight(n)` picks a
  // second colour (the primer in a continuation). Returns a function that draws a playhead at t seconds.
  function pianoRoll(canvas, notes, opts = {}) {
    const tip = canvas.parentElement.querySelector(".tip");
    const end = opts.end || Math.max(1, ...notes.map((n) => n.offset)) * 1.02;
    const used = new Set(notes.map((n) => n.pitch));
    let lo = Math.min(...notes.map((n) => n.pitch)) - 3, hi = Math.max(...notes.map((n) => n.pitch)) + 3;
    if (!notes.length) { lo = 55; hi = 79; }
    let playhead = null;
    function draw() {
      const { ctx, w, h } = fit(canvas);
      const M = mapper(w, h, end, lo - 0.5, hi + 0.5);
      ctx.fillStyle = "#111522"; ctx.fillRect(0, 0, w, h);
      for (let m = lo; m <= hi; m++) {   // black-key rows darker, like a keyboard on its side
        if ([1, 3, 6, 8, 10].includes(((m % 12) + 12) % 12)) {
          ctx.fillStyle = "#0b0e17"; ctx.fillRect(PAD.l, M.y(m + 0.5), w - PAD.l - PAD.r, M.y(m - 0.5) - M.y(m + 0.5));
        }
      }
      axes(ctx, w, h, end, lo - 0.5, hi + 0.5, used);
      for (const n of notes) {
        const x = M.x(n.onset), y = M.y(n.pitch + 0.42), bw = Math.max(2, M.x(n.offset) - x - 1);
        const a = 0.55 + 0.45 * Math.min(1, (n.velocity || 80) / 127);
        ctx.fillStyle = opts.highlight && opts.highlight(n) ? `rgba(148,163,184,${a})` : `rgba(${opts.rgb || "245,158,11"},${a})`;
        ctx.fillRect(x, y, bw, M.y(n.pitch - 0.42) - y);
      }
      if (playhead !== null) {
        ctx.strokeStyle = "#fff"; ctx.lineWidth = 1; ctx.beginPath();
        ctx.moveTo(M.x(playhead), PAD.t); ctx.lineTo(M.x(playhead), h - PAD.b); ctx.stroke();
      }
      return M;
    }
    let M = draw();
    canvas.onmousemove = (ev) => {
      const r = canvas.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top;
      const t = M.t(x), m = Math.round(M.m(y));
      const n = notes.find((k) => k.pitch === m && k.onset <= t && t <= k.offset);
      if (!n) { tip.hidden = true; return; }
      tip.hidden = false; tip.style.top = y + "px";
      tip.textContent = `${n.name} · ${n.onset.toFixed(2)}–${n.offset.toFixed(2)} s (${(n.offset - n.onset).toFixed(2)} s) · velocity ${n.velocity}`;
      const half = tip.offsetWidth / 2 + 4;
      tip.style.left = Math.min(Math.max(x, half), canvas.clientWidth - half) + "px";
    };
    canvas.onmouseleave = () => { tip.hidden = true; };
    canvas.dataset.notes = notes.length;
    canvas.locate = (n) => ({ x: (M.x(n.onset) + M.x(n.offset)) / 2, y: M.y(n.pitch) });   // CSS px, for tests
    window.addEventListener("resize", () => { M = draw(); });
    return (t) => { playhead = t; M = draw(); };
  }

  // Before/after spectrograms of a conversion (log-mel, no overlay).
  function image(canvas, img, seconds) {
    const { ctx, w, h } = fit(canvas);
    ctx.clearRect(0, 0, w, h);
    if (!img.cols) return;
    ctx.drawImage(imageCanvas(img), 0, 0, img.cols, img.rows, PAD.l, PAD.t, w - PAD.l - PAD.r, h - PAD.t - PAD.b);
    ctx.font = "11px DejaVu Sans, sans-serif"; ctx.fillStyle = "#aab"; ctx.textAlign = "center";
    const step = seconds > 60 ? 10 : seconds > 20 ? 5 : seconds > 8 ? 2 : 1;
    for (let t = 0; t <= seconds; t += step) ctx.fillText(t + " s", PAD.l + (w - PAD.l - PAD.r) * t / seconds, h - 6);
    ctx.save(); ctx.translate(14, h / 2); ctx.rotate(-Math.PI / 2); ctx.fillText("mel bands", 0, 0); ctx.restore();
    canvas.dataset.drawn = "1";
  }

  const decisionColour = (p) => p >= 0.5 ? `rgba(234,88,12,${0.45 + 0.55 * p})` : `rgba(22,163,74,${0.45 + 0.55 * (1 - p)})`;

  // Per-window decisions of a file: one bar per window, green = one voice, orange = several; hover for p.
  function timeline(canvas, windows, duration) {
    const tip = canvas.parentElement.querySelector(".tip");
    const { ctx, w, h } = fit(canvas);
    if (!windows) {
      ctx.fillStyle = "#111522"; ctx.fillRect(0, 0, w, h);
      ctx.font = "11px DejaVu Sans, sans-serif"; ctx.fillStyle = "#aab";
      ctx.fillText("a bar per window of the take appears here", 10, h / 2 + 4);
      return;
    }
    const x = (t) => PAD.l + (w - PAD.l - PAD.r) * t / duration;
    ctx.fillStyle = "#111522"; ctx.fillRect(0, 0, w, h);
    const rows = windows.length > 1 && windows[1].start < windows[0].end ? 2 : 1;   // overlapping windows: 2 lanes
    const laneH = (h - PAD.t - PAD.b) / rows;
    windows.forEach((win, i) => {
      ctx.fillStyle = decisionColour(win.p_several);
      const lane = i % rows;
      ctx.fillRect(x(win.start) + 1, PAD.t + lane * laneH + 1, Math.max(2, x(win.end) - x(win.start) - 2), laneH - 2);
    });
    ctx.font = "11px DejaVu Sans, sans-serif"; ctx.fillStyle = "#aab"; ctx.textAlign = "center";
    const step = duration > 60 ? 10 : duration > 20 ? 5 : duration > 8 ? 2 : 1;
    for (let t = 0; t <= duration; t += step) ctx.fillText(t + " s", x(t), h - 6);
    canvas.onmousemove = (ev) => {
      const r = canvas.getBoundingClientRect(), px = ev.clientX - r.left;
      const t = (px - PAD.l) / (w - PAD.l - PAD.r) * duration;
      const win = windows.find((k) => k.start <= t && t < k.end);
      if (!win) { tip.hidden = true; return; }
      tip.hidden = false; tip.style.left = px + "px"; tip.style.top = (ev.clientY - r.top) + "px";
      tip.textContent = `${win.start.toFixed(1)}–${win.end.toFixed(1)} s: ${win.label} (p(several) = ${win.p_several.toFixed(2)})`;
    };
    canvas.onmouseleave = () => { tip.hidden = true; };
    canvas.dataset.windows = windows.length;
  }

  // The live strip: the latest decisions, newest on the right.
  function strip(canvas, decisions, maxShown = 40) {
    const { ctx, w, h } = fit(canvas);
    ctx.fillStyle = "#111522"; ctx.fillRect(0, 0, w, h);
    const shown = decisions.slice(-maxShown), bw = (w - 8) / maxShown;
    shown.forEach((d, i) => {
      ctx.fillStyle = decisionColour(d.p);
      ctx.fillRect(4 + (maxShown - shown.length + i) * bw + 1, 4, bw - 2, h - 8);
    });
    ctx.font = "11px DejaVu Sans, sans-serif"; ctx.fillStyle = "#aab"; ctx.textAlign = "left";
    if (!shown.length) ctx.fillText("the latest decisions appear here, newest on the right", 10, h / 2 + 4);
  }

  return { noteName, spectrogram, pianoRoll, image, timeline, strip };
})();
