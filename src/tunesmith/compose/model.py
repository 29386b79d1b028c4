"""The composer network (a plain ``nn.Module``), its LightningModule, and checkpoint loading.

:class:`MelodyLSTM` reads, at step ``i``, the previous event (pitch or rest,
duration) and the bar position of event ``i``, and predicts

    P(pitch_i | events < i)  and then  P(duration_i | pitch_i, events < i),

so the probability of an event is the product of the two heads (pitch first,
duration given pitch). :class:`ComposerModule` trains it with teacher forcing
and reports validation losses in bits: ``val_bits_per_note`` is the mean of
−log2 P(pitch) over note events (rests are context, not scored) and
``val_bits_per_event`` the mean of −log2 P(pitch, duration) over all events.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

import lightning as L

from tunesmith.compose.data import IGNORE
from tunesmith.compose.tokens import BAR_CYCLE, N_DURATIONS, N_PITCH_INPUTS, N_PITCH_TOKENS, N_POSITIONS, REST
from tunesmith.errors import CheckpointError

__all__ = ["MelodyLSTM", "ComposerModule", "Composer", "load_composer", "export_checkpoint",
           "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "tunesmith.composer/1"   # 0.1's layout, still read (tunesmith.training.checkpoint)
KIND = "composer"
LN2 = math.log(2.0)


class MelodyLSTM(nn.Module):
    """Embeddings → stacked LSTM → pitch head, and a duration head conditioned on the pitch.

    Parameters
    ----------
    pitch_dim, dur_dim, pos_dim : embedding sizes of the previous pitch, previous
        duration and current bar position.
    bar_dim : embedding size of the bar number modulo ``BAR_CYCLE`` (0 = not used).
    hidden : LSTM units per layer; ``layers``: number of stacked layers.
    dropout : dropout on the embeddings, between layers and before the heads.
    """

    def __init__(self, pitch_dim: int = 64, dur_dim: int = 32, pos_dim: int = 16, hidden: int = 256,
                 layers: int = 2, dropout: float = 0.3, bar_dim: int = 0):
        super().__init__()
        self.config = dict(pitch_dim=pitch_dim, dur_dim=dur_dim, pos_dim=pos_dim, hidden=hidden,
                           layers=layers, dropout=dropout)
        if bar_dim:
            self.config["bar_dim"] = bar_dim
        self.bar_emb = nn.Embedding(BAR_CYCLE, bar_dim) if bar_dim else None
        self.pitch_emb = nn.Embedding(N_PITCH_INPUTS, pitch_dim)
        self.dur_emb = nn.Embedding(N_DURATIONS + 1, dur_dim)
        self.pos_emb = nn.Embedding(N_POSITIONS, pos_dim)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(pitch_dim + dur_dim + pos_dim + bar_dim, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.pitch_head = nn.Linear(hidden, N_PITCH_TOKENS)
        self.target_pitch_emb = nn.Embedding(N_PITCH_TOKENS, pitch_dim)
        self.dur_head = nn.Sequential(nn.Linear(hidden + pitch_dim, hidden), nn.ReLU(), nn.Dropout(dropout),
                                      nn.Linear(hidden, N_DURATIONS))

    def features(self, in_pitch, in_dur, pos, state=None):
        """(B, T) token tensors → LSTM outputs (B, T, hidden) and the new state (see tokens.metre_token)."""
        parts = [self.pitch_emb(in_pitch), self.dur_emb(in_dur), self.pos_emb(pos % N_POSITIONS)]
        if self.bar_emb is not None:
            parts.append(self.bar_emb((pos // N_POSITIONS) % BAR_CYCLE))
        x = torch.cat(parts, dim=-1)
        h, state = self.lstm(self.drop(x), state)
        return self.drop(h), state

    def pitch_logits(self, h):
        return self.pitch_head(h)

    def dur_logits(self, h, pitch):
        return self.dur_head(torch.cat([h, self.target_pitch_emb(pitch)], dim=-1))

    def forward(self, in_pitch, in_dur, pos, pitch, state=None):
        """Teacher-forced logits: (pitch_logits (B,T,129), dur_logits (B,T,192), state)."""
        h, state = self.features(in_pitch, in_dur, pos, state)
        return self.pitch_logits(h), self.dur_logits(h, pitch.clamp(min=0)), state


def event_nll(model: nn.Module, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-event negative log-likelihoods in nats: (pitch (B,T), duration (B,T), valid mask (B,T))."""
    pl, dl, _ = model(batch["in_pitch"], batch["in_dur"], batch["pos"], batch["pitch"])
    mask = batch["pitch"] != IGNORE
    p_nll = F.cross_entropy(pl.transpose(1, 2), batch["pitch"], ignore_index=IGNORE, reduction="none")
    d_nll = F.cross_entropy(dl.transpose(1, 2), batch["dur"], ignore_index=IGNORE, reduction="none")
    return p_nll, d_nll, mask


class ComposerModule(L.LightningModule):
    """Trains an injected melody network with teacher forcing; logs bits per note and per event.

    Parameters
    ----------
    model : the network (e.g. :class:`MelodyLSTM`).
    lr, weight_decay : AdamW settings.
    lr_schedule : ``"plateau"`` (halve on a validation plateau), ``"cosine"`` or ``"none"``.
    duration_weight : weight of the duration loss in the training objective.
    """

    def __init__(self, model: nn.Module, lr: float = 2e-3, weight_decay: float = 1e-4,
                 lr_schedule: str = "plateau", duration_weight: float = 1.0, plateau_patience: int = 3):
        super().__init__()
        self.model = model
        self.save_hyperparameters(ignore=["model"])
        self.tunesmith_extra: dict = {}
        self._sums: dict[str, torch.Tensor] = {}

    def training_step(self, batch, batch_idx):
        p, d, mask = event_nll(self.model, batch)
        n = mask.sum().clamp(min=1)
        loss = (p.sum() + self.hparams.duration_weight * d.sum()) / n
        self.log("train_loss", loss, prog_bar=True, batch_size=int(n))
        self.log("train_bits_per_event", (p.sum() + d.sum()) / n / LN2, on_step=False, on_epoch=True,
                 batch_size=int(n), sync_dist=True)
        return loss

    def on_validation_epoch_start(self):
        self._sums = {k: torch.zeros((), device=self.device, dtype=torch.float64)
                      for k in ("note_bits", "notes", "event_bits", "events")}

    def validation_step(self, batch, batch_idx):
        p, d, mask = event_nll(self.model, batch)
        notes = mask & (batch["pitch"] != REST)
        self._sums["note_bits"] += (p * notes).sum().double() / LN2
        self._sums["notes"] += notes.sum().double()
        self._sums["event_bits"] += ((p + d) * mask).sum().double() / LN2
        self._sums["events"] += mask.sum().double()

    def on_validation_epoch_end(self):
        s = dict(self._sums)
        if self.trainer.world_size > 1:
            s = {k: self.all_gather(v).sum() for k, v in s.items()}
        bpn = (s["note_bits"] / s["notes"].clamp(min=1)).float()
        bpe = (s["event_bits"] / s["events"].clamp(min=1)).float()
        self.log("val_bits_per_note", bpn, prog_bar=True)
        self.log("val_bits_per_event", bpe, prog_bar=True)
        self.log("val_loss", bpe * LN2)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        if self.hparams.lr_schedule == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5,
                                                               patience=self.hparams.plateau_patience)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val_bits_per_note"}}
        if self.hparams.lr_schedule == "cosine":
            steps = max(1, int(self.trainer.estimated_stepping_batches))
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.hparams.lr, total_steps=steps,
                                                        pct_start=0.1)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        return opt

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Make the Lightning checkpoint a composer model file too (:mod:`tunesmith.training.checkpoint`)."""
        from tunesmith.training.checkpoint import model_file_header

        checkpoint.update(model_file_header(KIND, dict(self.model.config)))
        checkpoint["meta"] = dict(self.tunesmith_extra)


# ----------------------------------------------------------------------------- using a checkpoint
class Composer:
    """A trained composer ready for sampling and scoring: the network plus its metadata.

    ``meta`` holds ``key_normalize``, ``time_signature`` (most common in training),
    ``tempo`` (median of training songs) and ``pitch_range`` of the training data.
    """

    def __init__(self, model: MelodyLSTM, meta: dict, path: str | None = None):
        self.model, self.meta, self.path = model.eval(), meta, path

    @property
    def key_normalize(self) -> bool:
        return bool(self.meta.get("key_normalize", True))


def _strip_prefix(state: dict, prefix: str = "model.") -> dict:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def load_composer(path: str | Path, map_location: str = "cpu") -> Composer:
    """Load a composer checkpoint (a Lightning ``.ckpt`` from training or an exported one).

    Reads the one model-file format (:func:`tunesmith.training.load_model_file`, ``weights_only=True``;
    also 0.1's files); raises :class:`CheckpointError` for a missing or corrupt file, a checkpoint of
    another model, or one from an incompatible tunesmith version.
    """
    from tunesmith.training.checkpoint import load_model_file

    path = Path(path)
    info = load_model_file(path, KIND, map_location=map_location)
    model = MelodyLSTM(**info["config"])
    state = info["state_dict"]
    if any(k.startswith("model.") for k in state):
        state = _strip_prefix(state)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"weights do not match the model ({str(exc).splitlines()[0][:120]})", path) from None
    return Composer(model, dict(info.get("meta") or {}), str(path))


def export_checkpoint(src: str | Path, dst: str | Path, *, half: bool = False) -> Path:
    """Write a slim copy of a composer checkpoint: weights + metadata only (no optimiser state)."""
    from tunesmith.training.checkpoint import save_model_file

    comp = load_composer(src)
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in comp.model.state_dict().items()}
    return save_model_file(dst, KIND, config=dict(comp.model.config), state_dict=state, meta=dict(comp.meta))
