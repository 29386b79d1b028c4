"""Prediction by Partial Match (PPM) over symbol sequences: the IDyOM-style baseline for the composer.

A variable-order Markov model (Cleary & Witten 1984; Pearce 2005, ch. 6):

* counts ``c(e | s)`` of every symbol ``e`` after every context ``s`` of length
  0..``order`` (``order=None``: unbounded);
* **escape method C** with **interpolated smoothing**: for a context ``s`` seen
  ``a(s)`` times with ``t(s)`` distinct followers,

      p(e | s) = c(e | s) / (a(s) + t(s)) + t(s) / (a(s) + t(s)) · p(e | suffix(s)),

  recursing down to a uniform distribution over the alphabet;
* **exclusion**: symbols already seen in a longer context are removed from the
  counts of the shorter ones (the final distribution is renormalised);
* **PPM\\*** order selection: prediction starts at the shortest *deterministic*
  context (one distinct follower) if there is one, else at the longest context
  that has been seen (up to ``order``).

:func:`combine` mixes several models' distributions with IDyOM's
entropy-weighted geometric mean (weight of a model = relative entropy^−bias);
a *short-term model* is a PPM trained only on the melody so far, combined with
the long-term model trained on the corpus.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

__all__ = ["PPM", "combine", "sequence_bits", "ltm_stm_bits"]


class PPM:
    """PPM model over symbols ``0 .. alphabet_size - 1`` (see the module docstring).

    Parameters
    ----------
    alphabet_size : number of symbols.
    order : longest context used (``None`` = unbounded).
    exclusion : apply exclusion when blending orders.
    ppm_star : PPM* order selection (else always start at the longest seen context).
    """

    def __init__(self, alphabet_size: int, order: int | None = 8, *, exclusion: bool = True,
                 ppm_star: bool = True, update_exclusion: bool = False):
        self.A = int(alphabet_size)
        self.order = order
        self.exclusion, self.ppm_star, self.update_exclusion = exclusion, ppm_star, update_exclusion
        self.counts: dict[tuple, dict[int, int]] = defaultdict(dict)

    def _max_len(self, n: int) -> int:
        return n if self.order is None else min(n, self.order)

    def update(self, history: Sequence[int], symbol: int) -> None:
        """Count ``symbol`` after every suffix of ``history`` up to the order bound."""
        n = len(history)
        lowest = 0
        if self.update_exclusion:  # lower orders are only updated where the symbol was novel above
            for k in range(self._max_len(n), -1, -1):
                d = self.counts.get(tuple(history[n - k:]) if k else ())
                if d and symbol in d:
                    lowest = k
                    break
        for k in range(lowest, self._max_len(n) + 1):
            ctx = tuple(history[n - k:]) if k else ()
            d = self.counts[ctx]
            d[symbol] = d.get(symbol, 0) + 1

    def fit(self, sequences) -> "PPM":
        for seq in sequences:
            seq = list(seq)
            for i, s in enumerate(seq):
                self.update(seq[:i] if self.order is None else seq[max(0, i - self.order):i], s)
        return self

    def _start_length(self, history: Sequence[int]) -> int:
        n = len(history)
        longest = 0
        for k in range(self._max_len(n) + 1):
            ctx = tuple(history[n - k:]) if k else ()
            d = self.counts.get(ctx)
            if not d:
                break  # longer contexts cannot have been seen either
            longest = k
            if self.ppm_star and k > 0 and len(d) == 1:
                return k  # shortest deterministic context
        return longest

    def distribution(self, history: Sequence[int]) -> np.ndarray:
        """P(next symbol | history) over the alphabet (sums to 1)."""
        n = len(history)
        top = self._start_length(history)
        ctxs = [self.counts.get(tuple(history[n - k:]) if k else ()) or {} for k in range(top, -1, -1)]
        # interpolate from the lowest order (uniform) upwards, excluding what longer contexts saw
        excluded_at: list[set] = []
        seen: set = set()
        for d in ctxs:
            excluded_at.append(set(seen) if self.exclusion else set())
            seen |= set(d)
        p = np.full(self.A, 1.0 / self.A)
        for d, excl in zip(reversed(ctxs), reversed(excluded_at)):
            items = [(s, c) for s, c in d.items() if s not in excl]
            if not items:
                continue
            a = sum(c for _, c in items)
            t = len(items)
            lower = p
            if excl:
                lower = p.copy()
                lower[list(excl)] = 0.0
                tot = lower.sum()
                lower = lower / tot if tot > 0 else p
            p = lower * (t / (a + t))
            for s, c in items:
                p[s] += c / (a + t)
        return p / p.sum()


def _entropy_bits(p: np.ndarray) -> float:
    q = p[p > 0]
    return float(-(q * np.log2(q)).sum())


def combine(dists: Sequence[np.ndarray], bias: float = 3.0) -> np.ndarray:
    """Entropy-weighted geometric mean of distributions (IDyOM): weight_m = (H_m / H_max)^−bias."""
    A = len(dists[0])
    hmax = math.log2(A)
    weights = np.array([max(_entropy_bits(p) / hmax, 1e-6) ** (-bias) for p in dists])
    weights = weights / weights.sum()
    logp = sum(w * np.log(np.maximum(p, 1e-300)) for w, p in zip(weights, dists))
    logp -= logp.max()
    q = np.exp(logp)
    return q / q.sum()


def sequence_bits(model: PPM, seq: Sequence[int]) -> np.ndarray:
    """−log2 P(symbol_i | symbols < i) under a fixed (already trained) model."""
    seq = list(seq)
    return np.array([-math.log2(model.distribution(seq[:i])[s]) for i, s in enumerate(seq)])


def ltm_stm_bits(ltm: PPM | None, seq: Sequence[int], *, alphabet_size: int, stm_order: int | None = None,
                 bias: float = 3.0, score: Sequence[bool] | None = None, ltm_dists: np.ndarray | None = None
                 ) -> np.ndarray:
    """Bits of each symbol under the long-term model combined with a short-term model of ``seq`` so far.

    ``ltm_dists`` may replace ``ltm`` with precomputed (T, A) distributions
    (e.g. from the LSTM). ``score`` marks the positions to return (default all).
    """
    seq = list(seq)
    stm = PPM(alphabet_size, order=stm_order)
    out = []
    for i, s in enumerate(seq):
        p_l = ltm_dists[i] if ltm_dists is not None else ltm.distribution(seq[:i])
        if i == 0:
            p = p_l
        else:
            p = combine([p_l, stm.distribution(seq[:i])], bias)
        if score is None or score[i]:
            out.append(-math.log2(max(p[s], 1e-300)))
        hist = seq[:i] if stm_order is None else seq[max(0, i - stm_order):i]
        stm.update(hist, s)
    return np.array(out)
