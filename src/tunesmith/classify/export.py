"""ONNX export of a classifier that takes raw audio, for browsers (onnxruntime-web) and phones.

``torch.stft``/``torch.fft`` do not export cleanly, so the exported graph computes
the STFT as a strided ``conv1d`` with DFT kernels: for frequency bin ``k`` the
kernels are ``w[n] cos(2 pi k n / n_fft)`` and ``-w[n] sin(2 pi k n / n_fft)``
(``w`` the analysis window), applied to the zero-padded signal with stride
``hop_length``. Power, mel filterbank, dB conversion with the per-example
``top_db`` floor, the fitted standardiser and the network follow as in torch.
The graph maps ``audio`` ``(batch, window samples)`` float32 at the model's
sample rate to ``probabilities`` ``(batch, n_classes)``; class names, sample
rate and window length are stored in the model's metadata.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tunesmith.errors import TunesmithError
from tunesmith.features import registry

__all__ = ["DFTFrontend", "ExportableClassifier", "export_onnx", "EXPORTABLE_FEATURES"]

#: Front ends :class:`DFTFrontend` rebuilds (:data:`tunesmith.features.registry.EXPORTABLE_KINDS`).
EXPORTABLE_FEATURES = registry.EXPORTABLE_KINDS
OPSET = 17


class DFTFrontend(nn.Module):
    """The STFT-family front end of ``tunesmith.features`` rebuilt from ``conv1d`` with DFT kernels.

    Supports ``Spectrogram``, ``LogSpectrogram``, ``MelSpectrogram`` and
    ``LogMelSpectrogram`` with ``center=True`` and constant (zero) padding; the
    window and mel filterbank are copied from the given module, so outputs agree
    with it to float32 round-off.
    """

    def __init__(self, fe: nn.Module):
        super().__init__()
        from tunesmith import features as F

        if not isinstance(fe, F.Spectrogram) or isinstance(fe, (F.PCEN, F.MFCC)):
            raise TunesmithError(f"ONNX export supports the {', '.join(EXPORTABLE_FEATURES)} front ends, "
                                 f"not {type(fe).__name__}; retrain with --features logmel")
        if getattr(fe, "pad_mode", "constant") != "constant" or not fe.center:
            raise TunesmithError("ONNX export needs a front end with center=True and constant padding")
        n_fft, hop = fe.n_fft, fe.hop_length
        self.n_fft, self.hop_length = n_fft, hop
        window = fe.window.detach().double().cpu().numpy()
        n = np.arange(n_fft)
        k = np.arange(n_fft // 2 + 1)[:, None]
        phase = 2.0 * np.pi * k * n / n_fft
        self.register_buffer("kernel_re", torch.tensor(window * np.cos(phase), dtype=torch.float32)[:, None, :])
        self.register_buffer("kernel_im", torch.tensor(-window * np.sin(phase), dtype=torch.float32)[:, None, :])
        self.is_log = isinstance(fe, (F.LogSpectrogram, F.LogMelSpectrogram))
        self.power = 2.0 if isinstance(fe, F.LogSpectrogram) else float(fe.power)
        self.has_mel = isinstance(fe, F.MelSpectrogram)
        if self.has_mel:
            self.register_buffer("mel_basis", fe.mel_basis.detach().float().clone())
        self.top_db = getattr(fe, "top_db", None)
        self.amin = float(getattr(fe, "amin", 1e-10))
        ref = float(getattr(fe, "ref", 1.0))
        self.offset = 10.0 * math.log10(max(ref, self.amin)) if self.is_log else 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = self.n_fft // 2
        x = nn.functional.pad(x.unsqueeze(1), (pad, pad))
        re = nn.functional.conv1d(x, self.kernel_re, stride=self.hop_length)
        im = nn.functional.conv1d(x, self.kernel_im, stride=self.hop_length)
        S = re * re + im * im
        if self.power != 2.0:
            S = S.clamp_min(0.0).pow(self.power / 2.0)
        if self.has_mel:
            S = torch.matmul(self.mel_basis, S)
        if not self.is_log:
            return S
        S = 10.0 * torch.log10(S.clamp_min(self.amin)) - self.offset
        if self.top_db is not None:
            peak = S.amax(dim=(1, 2), keepdim=True)
            S = torch.maximum(S, peak - self.top_db)
        return S


class ExportableClassifier(nn.Module):
    """Raw audio -> class probabilities with the DFT front end (what goes into the ONNX file)."""

    def __init__(self, model):
        super().__init__()
        self.frontend = DFTFrontend(model.frontend)
        self.norm = model.norm
        self.net = model.net

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(self.norm(self.frontend(audio))), dim=1)


def export_onnx(checkpoint, path: str | Path, *, check: bool = True) -> Path:
    """Write ``checkpoint`` (a path or a loaded :class:`~tunesmith.classify.model.Classifier`) as ONNX.

    With ``check`` the file is run in onnxruntime on a test signal and compared
    with the torch model; a mismatch above 1e-3 in probability raises.
    """
    import onnx

    from tunesmith.classify.train import load_classifier
    from tunesmith.io import atomic_path

    model = load_classifier(checkpoint) if isinstance(checkpoint, (str, Path)) else checkpoint
    model = model.cpu().eval()
    wrapped = ExportableClassifier(model).eval()
    n = int(round(model.window_s * model.sr))
    example = _test_signal(n, model.sr)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with torch.no_grad():
            torch.onnx.export(wrapped, (example,), str(tmp), input_names=["audio"], output_names=["probabilities"],
                              dynamic_axes={"audio": {0: "batch"}, "probabilities": {0: "batch"}},
                              opset_version=OPSET, dynamo=False)
        proto = onnx.load(str(tmp))
        meta = {"classes": json.dumps(list(model.classes)), "sample_rate": str(model.sr),
                "window_samples": str(n), "features": model.config["features"], "producer": "tunesmith"}
        for k, v in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = k, v
        onnx.save(proto, str(tmp))
        if check:
            got = run_onnx(tmp, example.numpy())
            with torch.no_grad():
                want = torch.softmax(model(example), 1).numpy()
            err = float(np.abs(got - want).max())
            if err > 1e-3:
                raise TunesmithError(f"exported model disagrees with torch (max probability difference {err:.2g})")
    return path


def run_onnx(path: str | Path, audio: np.ndarray) -> np.ndarray:
    """Probabilities from an exported model with onnxruntime (``audio`` (batch, samples) float32)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"audio": np.ascontiguousarray(audio, dtype=np.float32)})[0]


def _test_signal(n: int, sr: int) -> torch.Tensor:
    """Two deterministic test windows: a chord of harmonics and a noise-plus-tone mix."""
    t = np.arange(n) / sr
    a = sum(0.2 / h * np.sin(2 * np.pi * 220.0 * h * t) for h in range(1, 6))
    rng = np.random.default_rng(0)
    b = 0.05 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 660.0 * t)
    return torch.tensor(np.stack([a, b]), dtype=torch.float32)
