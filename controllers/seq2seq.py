"""Seq2SeqPolicy: the encoder-decoder actor-critic of MRLCO (§4.3) and MRLATO (§III), in PyTorch.

The policy plans one DAG at a time. The encoder reads the task embeddings in schedule order (one row
per task, ``DagOffloadEnv``'s ``tasks``); the decoder emits one action per task, autoregressively, and
a policy head and a value head read each decoder output (MRLCO: both heads share encoder and decoder).

Layout per decoding step j (0-based; MRLCO eqs. 12-15):

    e_1..e_n   = encoder outputs                                   # MRLCO eq. (12)
    c_j        = attend(query = d_{j-1}, keys = values = e, mask)  # MRLCO eqs. (14)-(15) / MRLATO (18)-(22)
    d_j        = decoder([embed(a_{j-1}), c_j], state_{j-1})       # MRLCO eq. (13)
    pi(.|s_j)  = softmax(W_pi [d_j, c_j]),  v(s_j) = w_v [d_j, c_j]

with a_{-1} a learned start token, state_{-1} the encoder's final (h, c) per layer, and d_{-1} = e_n, the
encoder's output at the last real task.

Schedule features (``schedule_dim`` > 0; beyond the papers, issue 14): the decoder's input at step j
also holds s_j, the closed-form schedule state of the partial plan a_0..a_{j-1}
(``mecsim.envs.dag_offload.schedule_features``): d_j = decoder([embed(a_{j-1}), c_j, s_j], state_{j-1}).
s_j depends on the actions sampled so far, so ``act`` asks a callable for it at every step and
``evaluate`` (teacher forcing) takes the features stored with the rollout. With ``schedule_dim=0`` the
network is the paper's, parameter for parameter.

Layer normalisation (MRLCO Table 2, MRLATO §IV: "on" in encoder and decoder). PyTorch's LSTM has no
built-in layer norm, so each of the ``layers`` recurrent layers is a single-layer LSTM (encoder) or
LSTMCell (decoder) whose output goes through a LayerNorm before the next layer reads it. The recurrent
state itself stays un-normalised, which is where this differs from TF's layer-normalised LSTM cell
(that one normalises the gates); the effect sought, well-scaled inputs to every layer, is the same.

Padding: rows past a graph's n are padding (always at the end). The encoder packs the sequences, so
its final state is that of the last real task; attention masks padded keys; the decoder is causal, so
padded steps cannot change real ones. Outputs at padding are 0 (and action 0).

Inputs are batched: ``tasks`` (B, N, F) float, ``mask`` (B, N) bool (int8 accepted), actions (B, N).
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["Seq2SeqPolicy", "AdditiveAttention", "MultiheadContext"]

ATTENTIONS = ("additive", "multihead")


def _layer_init(layer: nn.Linear, std: float) -> nn.Linear:
    """Orthogonal weights, zero bias: a near-uniform first policy (std 0.01) and unit-scale values."""
    nn.init.orthogonal_(layer.weight, std)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def _forget_bias(bias_ih: Tensor, bias_hh: Tensor, hidden: int) -> None:
    """Forget-gate bias 1 (the authors' TF cells use forget_bias=1.0): remember by default early on."""
    with torch.no_grad():
        bias_ih[hidden:2 * hidden].fill_(1.0)   # PyTorch gate order: input, forget, cell, output
        bias_hh[hidden:2 * hidden].zero_()


class AdditiveAttention(nn.Module):
    """Bahdanau score, score(d, e_i) = v^T tanh(W1 d + W2 e_i): a feed-forward net (MRLCO §4.3)."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.query = nn.Linear(hidden, hidden, bias=False)   # W1
        self.key = nn.Linear(hidden, hidden)                  # W2 (+ bias)
        self.score = nn.Linear(hidden, 1, bias=False)         # v

    def prepare(self, enc: Tensor) -> Tensor:
        """W2 e is the same at every decoding step: compute it once per sequence."""
        return self.key(enc)

    def forward(self, query: Tensor, enc: Tensor, keys: Tensor, mask: Tensor) -> Tensor:
        score = self.score(torch.tanh(self.query(query).unsqueeze(1) + keys)).squeeze(-1)  # (B, N)
        alpha = torch.softmax(score.masked_fill(~mask, float("-inf")), dim=-1)           # MRLCO eq. (15)
        return torch.bmm(alpha.unsqueeze(1), enc).squeeze(1)                               # MRLCO eq. (14)


class MultiheadContext(nn.Module):
    """Scaled dot-product attention over h heads, decoder state as query (MRLATO eqs. 18-22)."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden={hidden} must be divisible by heads={heads} (d_k = d_model / h)")
        self.mha = nn.MultiheadAttention(hidden, heads, batch_first=True)

    def prepare(self, enc: Tensor) -> Tensor:
        return enc   # nn.MultiheadAttention projects K and V itself (eq. 18)

    def forward(self, query: Tensor, enc: Tensor, keys: Tensor, mask: Tensor) -> Tensor:
        # W_Q, W_K, W_V (18), split into heads (19), softmax(QK^T/sqrt(d_k))V (20), concat (21), W_O (22)
        out, _ = self.mha(query.unsqueeze(1), keys, keys, key_padding_mask=~mask, need_weights=False)
        return out.squeeze(1)


class Seq2SeqPolicy(nn.Module):
    """Encoder-decoder actor-critic over a DAG's task sequence; one action per task."""

    def __init__(self, obs_dim: int, n_actions: int, *, hidden: int = 256, layers: int = 2,
                 attention: str = "additive", heads: int = 8, layer_norm: bool = True, schedule_dim: int = 0) -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, not {attention!r}")
        if layers < 1 or n_actions < 1:
            raise ValueError("need layers >= 1 and n_actions >= 1")
        self.obs_dim, self.n_actions, self.hidden, self.layers = obs_dim, n_actions, hidden, layers
        self.schedule_dim = schedule_dim
        self.start = n_actions   # index of the start token's row in `action_embed`

        def norm() -> nn.Module:
            return nn.LayerNorm(hidden) if layer_norm else nn.Identity()

        # Encoder: linear task embedding (no activation, as the authors' code), then stacked LSTMs.
        self.embed = nn.Linear(obs_dim, hidden)
        self.encoder = nn.ModuleList(nn.LSTM(hidden, hidden, batch_first=True) for _ in range(layers))
        self.encoder_norm = nn.ModuleList(norm() for _ in range(layers))
        # Decoder: previous action's embedding (+ start token) and context in, stacked LSTM cells.
        self.action_embed = nn.Embedding(n_actions + 1, hidden)
        self.decoder = nn.ModuleList(nn.LSTMCell(2 * hidden + schedule_dim if k == 0 else hidden, hidden)
                                     for k in range(layers))
        self.decoder_norm = nn.ModuleList(norm() for _ in range(layers))
        self.attention = (AdditiveAttention(hidden) if attention == "additive"
                          else MultiheadContext(hidden, heads))
        # Heads on [d_j, c_j]: separate fully connected layers sharing the encoder-decoder (MRLCO §4.3).
        self.policy_head = _layer_init(nn.Linear(2 * hidden, n_actions), 0.01)
        self.value_head = _layer_init(nn.Linear(2 * hidden, 1), 1.0)
        for lstm in self.encoder:
            _forget_bias(lstm.bias_ih_l0, lstm.bias_hh_l0, hidden)
        for cell in self.decoder:
            _forget_bias(cell.bias_ih, cell.bias_hh, hidden)

    # -- encoder ---------------------------------------------------------------------------------

    def encode(self, tasks: Tensor, mask: Tensor) -> tuple[Tensor, list[tuple[Tensor, Tensor]], Tensor]:
        """Encoder outputs e (B, N, H), final (h, c) per layer at the last real task, and e_n (B, H)."""
        lengths = mask.sum(1).cpu()
        n = tasks.shape[1]
        x = self.embed(tasks)
        states: list[tuple[Tensor, Tensor]] = []
        for lstm, norm in zip(self.encoder, self.encoder_norm):
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, (h, c) = lstm(packed)                       # MRLCO eq. (12); h, c at each row's length
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=n)
            x = norm(out)
            states.append((h[0], c[0]))
        last = (mask.sum(1) - 1).clamp(min=0)
        final = x[torch.arange(x.shape[0], device=x.device), last]
        return x, states, final

    # -- decoder ---------------------------------------------------------------------------------

    def _step(self, prev: Tensor, query: Tensor, states: list[tuple[Tensor, Tensor]], enc: Tensor,
              keys: Tensor, mask: Tensor, sched: Tensor | None) -> tuple[Tensor, Tensor, list[tuple[Tensor, Tensor]]]:
        """One decoding step: context from the previous output, then the LSTM cells (MRLCO eq. 13)."""
        context = self.attention(query, enc, keys, mask)
        x = torch.cat([self.action_embed(prev), context] + ([] if sched is None else [sched]), dim=-1)
        new: list[tuple[Tensor, Tensor]] = []
        for cell, norm, state in zip(self.decoder, self.decoder_norm, states):
            h, c = cell(x, state)
            new.append((h, c))
            x = norm(h)
        return x, context, new

    def _check(self, tasks: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        if tasks.dim() != 3 or tasks.shape[-1] != self.obs_dim:
            raise ValueError(f"tasks must be (B, N, {self.obs_dim}), got {tuple(tasks.shape)}")
        mask = mask.to(device=tasks.device, dtype=torch.bool)
        if mask.shape != tasks.shape[:2] or not bool(mask[:, 0].all()):
            raise ValueError("mask must be (B, N) with at least one real task per row")
        if bool((mask[:, 1:] & ~mask[:, :-1]).any()):
            raise ValueError("padding must be at the end of each row (packing relies on it)")
        return tasks.float(), mask

    def evaluate(self, tasks: Tensor, mask: Tensor, actions: Tensor,
                 schedule: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Teacher forcing: (log_prob (B,N), entropy (B,N), value (B,N)) of the given actions; 0 at padding.

        Actions at padding are ignored (any value, e.g. the env's -1, is allowed there). ``schedule``
        (B, N, schedule_dim): the features of each step along these actions (``ScheduleTracker``)."""
        tasks, mask = self._check(tasks, mask)
        sched = self._check_schedule(schedule, mask)
        actions = torch.where(mask, actions.to(tasks.device).long(), 0)
        enc, states, query = self.encode(tasks, mask)
        keys = self.attention.prepare(enc)
        b, n = mask.shape
        steps = int(mask.sum(1).max())   # steps past the longest graph are padding for every row
        prev = torch.full((b,), self.start, dtype=torch.long, device=tasks.device)
        feats = []
        for j in range(steps):
            query, context, states = self._step(prev, query, states, enc, keys, mask,
                                                None if sched is None else sched[:, j])
            feats.append(torch.cat([query, context], dim=-1))
            prev = actions[:, j]
        feat = torch.stack(feats, dim=1)                                  # (B, steps, 2H)
        logp_all = torch.log_softmax(self.policy_head(feat), dim=-1)
        logp = logp_all.gather(-1, actions[:, :steps, None]).squeeze(-1)
        entropy = -(logp_all.exp() * logp_all).sum(-1)
        value = self.value_head(feat).squeeze(-1)
        live = mask[:, :steps]
        logp, entropy, value = (nn.functional.pad(torch.where(live, t, 0.0), (0, n - steps))
                                for t in (logp, entropy, value))
        return logp, entropy, value

    def _check_schedule(self, schedule: Tensor | None, mask: Tensor) -> Tensor | None:
        if (schedule is None) != (self.schedule_dim == 0):
            raise ValueError(f"schedule features: this network takes {self.schedule_dim} per step, "
                             f"got {'none' if schedule is None else tuple(schedule.shape)}")
        if schedule is not None and tuple(schedule.shape) != (*mask.shape, self.schedule_dim):
            raise ValueError(f"schedule must be (B, N, {self.schedule_dim}), got {tuple(schedule.shape)}")
        return None if schedule is None else schedule.to(mask.device).float()

    @torch.no_grad()
    def act(self, tasks: Tensor, mask: Tensor, *, greedy: bool = False, generator: torch.Generator | None = None,
            schedule: Callable[[int, Tensor], Any] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Autoregressive decoding: (actions (B,N) long, log_prob (B,N), value (B,N)); padding
        positions get action 0, log_prob 0, value 0.

        Sampling draws from `generator` (reproducible rollouts); greedy takes the argmax (MRLCO §4.3
        inference). ``schedule(j, previous actions (B,))`` gives step j's features (B, schedule_dim),
        e.g. a ``ScheduleTracker``; needed exactly when ``schedule_dim`` > 0."""
        tasks, mask = self._check(tasks, mask)
        if (schedule is None) != (self.schedule_dim == 0):
            raise ValueError(f"schedule: this network takes {self.schedule_dim} features per step, "
                             f"got {'no' if schedule is None else 'a'} callable")
        enc, states, query = self.encode(tasks, mask)
        keys = self.attention.prepare(enc)
        b, n = mask.shape
        actions = torch.zeros((b, n), dtype=torch.long, device=tasks.device)
        logp = torch.zeros((b, n), device=tasks.device)
        value = torch.zeros((b, n), device=tasks.device)
        prev = torch.full((b,), self.start, dtype=torch.long, device=tasks.device)
        for j in range(int(mask.sum(1).max())):
            sched = None if schedule is None else \
                torch.as_tensor(schedule(j, prev.cpu().numpy()), device=tasks.device).float()
            query, context, states = self._step(prev, query, states, enc, keys, mask, sched)
            feat = torch.cat([query, context], dim=-1)
            logp_all = torch.log_softmax(self.policy_head(feat), dim=-1)
            if greedy:
                a = logp_all.argmax(-1)
            else:
                a = torch.multinomial(logp_all.exp(), 1, generator=generator).squeeze(-1)
            live = mask[:, j]
            a = torch.where(live, a, 0)
            actions[:, j] = a
            logp[:, j] = torch.where(live, logp_all.gather(-1, a[:, None]).squeeze(-1), 0.0)
            value[:, j] = torch.where(live, self.value_head(feat).squeeze(-1), 0.0)
            prev = a
        return actions, logp, value
