"""A fused, inference-only copy of a `StateModel`'s recurrent call, for the search.

Turned on by `runtime.fused_inference`; `model/networks.py` stays the reference, and
tests require both to agree to float32 rounding.

Why: one `recurrent` call of the readable `StateModel` runs about fifty small
modules. At batch 1 each costs a few microseconds of Python, so 32
simulations spend most of their time calling modules, not multiplying
matrices. This copy does the same arithmetic in about thirty tensor
operations, by rewriting the weights once per set of weights:

- **BatchNorm (eval mode) into the Linear before it.** BN(Wx + b) =
  s (Wx + b - mu) + beta with s = gamma / sqrt(var + eps), so W' = diag(s) W
  and b' = s (b - mu) + beta.
- **LayerNorm's affine into the Linear after it.** W (gamma * x_hat + beta) + b
  = (W diag(gamma)) x_hat + (W beta + b); only the normalisation x_hat stays.
- **The three heads (reward, value, policy) side by side.** Each head is
  x + block(x) -> LayerNorm -> MLP. Their first layers read the same
  normalised latent, so they become one matrix; the later layers are stacked
  [3, in, out] and applied as one batched product (`torch.baddbmm`) to small
  batches, head by head to large ones (where `baddbmm` splits poorly over
  threads). Heads of different widths are padded with zero units (a zero
  unit adds exactly 0), and the outputs are cut back to each head's size.
- **Discrete actions** embed as one-hot vectors; a Linear of a one-hot is a
  row lookup.

Shapes: B = batch; latent [B, d]; action [B] int64 (discrete) or [B, A]
float32; outputs as `EZModel.recurrent` (reward / value logits [B, bins],
policy [B, |A|] or [B, 2A]).

The fused weights are rebuilt whenever a parameter or buffer of the model
changes (every in-place update bumps a tensor's version counter), so an
optimizer step between two searches is always seen.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..model.networks import EZModel, ModelOutput, StateModel


def _linear(layer: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """(W [out, in], b [out]) as detached copies."""
    return layer.weight.detach().clone(), layer.bias.detach().clone()


def _fold_norm_after(weight: torch.Tensor, bias: torch.Tensor, bn: nn.BatchNorm1d):
    """A Linear (W, b) followed by an eval-mode BatchNorm1d, as one Linear."""
    assert bn.running_mean is not None and bn.running_var is not None  # (networks.mlp tracks them)
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    return weight * scale[:, None], scale * (bias - bn.running_mean) + bn.bias.detach()


def _fold_norm_before(norm: nn.LayerNorm, weight: torch.Tensor, bias: torch.Tensor):
    """A LayerNorm's affine (gamma, beta) followed by a Linear (W, b), as one Linear of x_hat."""
    return weight * norm.weight.detach()[None, :], bias + weight @ norm.bias.detach()


def _block(block: Any):
    """An ImproveResidualBlock x + W2 relu(W1 LN(x) + b1) + b2 as (W1', b1', W2, b2) acting on
    LN's x_hat. (Its layers are read by position, which typing knows only as nn.Module.)"""
    norm, first, _, second = block.net
    return (*_fold_norm_before(norm, *_linear(first)), *_linear(second))


def _mlp(mlp: nn.Sequential) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`networks.mlp` (Linear -> BN -> act ..., Linear) as folded (W, b) layers."""
    layers, modules = [], list(mlp)
    for i, module in enumerate(modules):
        if isinstance(module, nn.Linear):
            w, b = _linear(module)
            following = modules[i + 1] if i + 1 < len(modules) else None
            if isinstance(following, nn.BatchNorm1d):
                w, b = _fold_norm_after(w, b, following)
            layers.append((w, b))
    return layers


def _pad(weight: torch.Tensor, bias: torch.Tensor, rows: int, cols: int):
    """Zero-pad a Linear to [rows, cols] (extra units compute exactly 0)."""
    w = weight.new_zeros(rows, cols)
    w[: weight.shape[0], : weight.shape[1]] = weight
    b = bias.new_zeros(rows)
    b[: bias.shape[0]] = bias
    return w, b


BATCHED_HEADS_BELOW = 32
"""Batches smaller than this run the three heads' layers as one `baddbmm` call."""


def _heads_layer(y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """y [3, B, in] @ weight [3, in, out] + bias [3, 1, out] -> [3, B, out]."""
    if y.shape[1] < BATCHED_HEADS_BELOW:
        return torch.baddbmm(bias, y, weight)
    out = y.new_empty(3, y.shape[1], weight.shape[-1])
    for i in range(3):
        torch.addmm(bias[i], y[i], weight[i], out=out[i])
    return out


class FusedRecurrent:
    """`model.recurrent(latent, action)` of a StateModel in eval mode, fused (see the module docstring)."""

    def __init__(self, model: EZModel):
        if not isinstance(model, StateModel):
            raise TypeError(
                "fused inference covers StateModel only (encoder='state'); image "
                "models spend their time in convolutions, not in Python"
            )
        if model.training:
            raise ValueError("fuse a model in eval mode: BatchNorm must use its running statistics")
        self.discrete = model.spec.is_discrete
        with torch.no_grad():
            self._fuse(model)

    def _fuse(self, model: Any) -> None:
        # `model`: a StateModel, its Sequentials read by position (typing sees only nn.Module)
        emb_linear, emb_norm, _ = model.action_embedding
        self.emb_w, self.emb_b = _linear(emb_linear)
        self.emb_norm = (
            emb_norm.normalized_shape,
            emb_norm.weight.detach().clone(),
            emb_norm.bias.detach().clone(),
            emb_norm.eps,
        )
        dyn_norm, dyn_first, _, dyn_second = model.dyn_in
        self.dyn_norm_shape, self.dyn_eps = dyn_norm.normalized_shape, dyn_norm.eps
        self.dyn = (*_fold_norm_before(dyn_norm, *_linear(dyn_first)), *_linear(dyn_second))
        self.blocks = [(_block(b), b.net[0].eps) for b in model.dyn_blocks]
        self.d = model.latent_shape[0]

        heads = [model.reward_head, model.value_head, model.policy_head]
        self.out_sizes = [h[2][-1].out_features for h in heads]
        self.head_eps = (heads[0][0].net[0].eps, heads[0][1].eps)
        # first layer of each head's block: one matrix [3 d_hidden, d] on the shared x_hat
        block_parts = [_block(h[0]) for h in heads]
        self.head_w1 = torch.cat([p[0] for p in block_parts])
        self.head_b1 = torch.cat([p[1] for p in block_parts])
        self.head_w2 = torch.stack([p[2].T for p in block_parts])  # [3, d_hidden, d]
        self.head_b2 = torch.stack([p[3] for p in block_parts])[:, None]  # [3, 1, d]
        # each head's LayerNorm affine folds into its MLP's first layer; pad widths to match
        mlps = []
        for h in heads:
            layers = _mlp(h[2])
            layers[0] = _fold_norm_before(h[1], *layers[0])
            mlps.append(layers)
        if len({len(m) for m in mlps}) != 1:
            raise ValueError(
                "fused inference needs reward_hidden, value_hidden and policy_hidden "
                "of the same depth (widths may differ)"
            )
        self.mlp = []
        for depth in range(len(mlps[0])):
            rows = max(m[depth][0].shape[0] for m in mlps)
            cols = max(m[depth][0].shape[1] for m in mlps)
            padded = [_pad(*m[depth], rows, cols) for m in mlps]
            self.mlp.append(
                (
                    torch.stack([w.T for w, _ in padded]),  # [3, in, out]
                    torch.stack([b for _, b in padded])[:, None],  # [3, 1, out]
                )
            )

    def __call__(
        self, latent: torch.Tensor, action: torch.Tensor, hidden: None = None
    ) -> ModelOutput:
        # (`hidden`: state models have no LSTM; the argument keeps EZModel.recurrent's signature)
        # dynamics: s' = blocks(s + dyn_in([s, embed(a)]))
        if self.discrete:
            embedded = self.emb_w.T[action.long()] + self.emb_b  # a Linear of a one-hot
        else:
            embedded = torch.addmm(self.emb_b, action.float(), self.emb_w.T)
        embedded = F.relu(F.layer_norm(embedded, *self.emb_norm))
        x = F.layer_norm(
            torch.cat([latent, embedded], dim=-1), self.dyn_norm_shape, eps=self.dyn_eps
        )
        w1, b1, w2, b2 = self.dyn
        x = latent + torch.addmm(b2, torch.relu_(torch.addmm(b1, x, w1.T)), w2.T)
        for (w1, b1, w2, b2), eps in self.blocks:
            h = torch.relu_(torch.addmm(b1, F.layer_norm(x, (self.d,), eps=eps), w1.T))
            x = x + torch.addmm(b2, h, w2.T)
        # the three heads at once: [3, B, ...]
        batch = x.shape[0]
        h = torch.addmm(
            self.head_b1, F.layer_norm(x, (self.d,), eps=self.head_eps[0]), self.head_w1.T
        )
        h = torch.relu_(h.view(batch, 3, -1).transpose(0, 1))
        y = _heads_layer(h, self.head_w2, self.head_b2) + x
        y = F.layer_norm(y, (self.d,), eps=self.head_eps[1])
        for i, (w, b) in enumerate(self.mlp):
            y = _heads_layer(y, w, b)
            if i + 1 < len(self.mlp):
                y = torch.relu_(y)
        reward, value, policy = (y[i, :, :n] for i, n in enumerate(self.out_sizes))
        return ModelOutput(x, value, policy, reward, None)


def _version_key(model: nn.Module) -> tuple:
    """(address, version) of every parameter and buffer. Read from each module's own tables:
    `model.parameters()` walks the same tree through generators at 2-3x the cost (0.2 ms for
    a `dmc_state` model, once per search)."""
    return tuple(
        (t.data_ptr(), t._version)
        for module in model.modules()
        for t in (*module._parameters.values(), *module._buffers.values())
        if t is not None
    )


def fused_recurrent(model: EZModel) -> FusedRecurrent:
    """The model's FusedRecurrent, rebuilt only when its weights or statistics changed."""
    key = _version_key(model)
    cached = getattr(model, "_fused_cache", None)
    if cached is None or cached[0] != key:
        cached = (key, FusedRecurrent(model))
        # (torch types Module.__setattr__ for tensors and modules only)
        model._fused_cache = cached  # type: ignore[assignment]
    return cached[1]
