"""Per-bin standardisation fitted on a data set: the one normaliser of tunesmith.

Used by the front ends, by the classifier (:class:`tunesmith.classify.model.BinNorm` is this class
with the classifier's settings) and by ``compare-features``' per-bin standardiser.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import Tensor, nn

from tunesmith.features.core import _buf


class Normalizer(nn.Module):
    """Per-bin standardisation ``(x - mean[f]) / (std[f] + eps)`` fitted on a data set.

    Statistics are accumulated in float64 over every frame of every example passed to
    :meth:`fit` / :meth:`partial_fit` (inputs ``(batch, n_features, frames)`` or
    ``(n_features, frames)``; sums are taken around a shift, the first batch's mean, so
    large offsets such as dB values keep full precision). With ``N`` frames,

        mean = sum(x) / N,    std = max(std_floor, sqrt(sum((x - mean)**2) / (N - ddof)))

    (``ddof=0``: the population standard deviation; ``ddof=1``: the sample one).
    ``mean`` and ``std`` are buffers, so the fitted state is saved in the ``state_dict`` of any
    model that contains the normaliser; with ``keep_sums`` (the default) so are ``count`` and the
    running sums, and fitting can resume after loading. :meth:`to_dict` / :meth:`from_dict` give a
    plain-Python form of ``mean`` and ``std``.

    Parameters
    ----------
    n_features : number of rows (bins, features) ``f``.
    eps : added to ``std`` in :meth:`forward` (keeps silent rows finite).
    std_floor : lower bound of the fitted ``std``.
    ddof : delta degrees of freedom of the variance (0 or 1).
    keep_sums : save ``count`` and the running sums in the ``state_dict`` (``False``: only ``mean``
        and ``std``, the classifier's checkpoint layout).
    """

    def __init__(self, n_features: int, *, eps: float = 1e-5, std_floor: float = 0.0, ddof: int = 0,
                 keep_sums: bool = True):
        super().__init__()
        self.n_features, self.eps = int(n_features), float(eps)
        self.std_floor, self.ddof = float(std_floor), int(ddof)
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64), persistent=keep_sums)
        self.register_buffer("shift", torch.zeros(n_features, dtype=torch.float64), persistent=keep_sums)
        self.register_buffer("sum", torch.zeros(n_features, dtype=torch.float64), persistent=keep_sums)
        self.register_buffer("sumsq", torch.zeros(n_features, dtype=torch.float64), persistent=keep_sums)

    @property
    def fitted(self) -> bool:
        return bool(self.count > 0)

    @torch.no_grad()
    def partial_fit(self, x: Tensor) -> "Normalizer":
        """Add the frames of ``x`` to the running statistics and update ``mean``/``std``."""
        x = torch.as_tensor(x).detach()
        if x.ndim == 2:
            x = x.unsqueeze(0)
        if x.ndim != 3 or x.shape[1] != self.n_features:
            raise ValueError(f"expected (batch, {self.n_features}, frames), got {tuple(x.shape)}")
        if x.shape[0] * x.shape[2] == 0:
            return self
        x = x.to(self.sum.device, torch.float64)
        if not self.fitted:
            self.shift.copy_(x.mean(dim=(0, 2)))
        d = x - self.shift[None, :, None]
        self.sum += d.sum(dim=(0, 2))
        self.sumsq += (d * d).sum(dim=(0, 2))
        self.count += float(x.shape[0] * x.shape[2])
        m = self.sum / self.count
        var = (self.sumsq / self.count - m * m).clamp(min=0)
        if self.ddof:
            var = var * (self.count / (self.count - self.ddof).clamp(min=1.0))
        self.mean.copy_(m + self.shift)
        self.std.copy_(var.sqrt().clamp(min=self.std_floor))
        return self

    def fit(self, batches: Iterable[Tensor] | Tensor) -> "Normalizer":
        """Reset, then accumulate statistics over ``batches`` (a tensor or an iterable of tensors)."""
        self.reset()
        if torch.is_tensor(batches) or isinstance(batches, np.ndarray):
            batches = [batches]
        for b in batches:
            self.partial_fit(b)
        if not self.fitted:
            raise ValueError("Normalizer.fit got no data")
        return self

    def reset(self) -> None:
        for name in ("mean", "count", "shift", "sum", "sumsq"):
            getattr(self, name).zero_()
        self.std.fill_(1.0)

    def forward(self, x: Tensor) -> Tensor:
        mean = _buf(self.mean, x)[:, None]
        std = _buf(self.std, x)[:, None]
        return (x - mean) / (std + self.eps)

    def inverse(self, z: Tensor) -> Tensor:
        """Undo :meth:`forward`."""
        return z * (_buf(self.std, z)[:, None] + self.eps) + _buf(self.mean, z)[:, None]

    def to_dict(self) -> dict:
        return {"n_features": self.n_features, "eps": self.eps, "std_floor": self.std_floor, "ddof": self.ddof,
                "mean": self.mean.tolist(), "std": self.std.tolist(), "count": float(self.count)}

    @classmethod
    def from_dict(cls, d: dict) -> "Normalizer":
        m = cls(int(d["n_features"]), eps=float(d.get("eps", 1e-5)), std_floor=float(d.get("std_floor", 0.0)),
                ddof=int(d.get("ddof", 0)))
        m.mean.copy_(torch.as_tensor(d["mean"], dtype=torch.float32))
        m.std.copy_(torch.as_tensor(d["std"], dtype=torch.float32))
        m.count.fill_(float(d.get("count", 1.0)))
        return m

    def extra_repr(self) -> str:
        return f"n_features={self.n_features}, eps={self.eps}, std_floor={self.std_floor}, fitted={self.fitted}"


