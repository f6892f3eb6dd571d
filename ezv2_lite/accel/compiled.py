"""The search's model step through `torch.compile`, at a few fixed batch sizes.

Turned on by `search.compile_step`; the step it compiles, the readable
`EZModel.recurrent`, stays the reference, and a test requires the compiled
search to choose what the readable one chooses. Parameters are inputs of the
compiled graph, so an optimizer step or a target-model update is seen.

Why: a search calls its model step once per simulation with the same shapes.
On a GPU one step of the readable model is some sixty small kernels, each
launched from Python; the GPU spends most of the step waiting for the next
launch. Compiled with `mode="reduce-overhead"`, the step is fused by Inductor
and captured as a CUDA graph, which the GPU replays in one launch. On a CPU
there is no launch to save: compiling costs tens of seconds per batch size and
the compiled step runs no faster (docs/performance.md has the figures), so the
switch is off by default.

Fixed batch sizes: every new input shape is a new compilation (and a new
graph), and a training run searches many batch sizes (acting, reanalysis, and
an evaluation whose batch shrinks as games end). The step therefore pads its
B rows with zero rows up to the next power of two and cuts the outputs back
to B: a run compiles at most log2(B_max) + 1 shapes per model.

Shapes: as `EZModel.recurrent`: latent [B, ...], action [B] int64 or
[B, A] float32, hidden ([B, H], [B, H]) or None; outputs batch first.
"""

from __future__ import annotations

import dataclasses
import weakref

import torch
from torch.utils._pytree import tree_map_only

from ..model.networks import EZModel, ModelOutput
from ..search.search import Step

RECOMPILE_LIMIT = 64
"""Compilations allowed per compiled function: (log2(B_max) + 1) batch sizes for each
model the step is called with (the online model for acting, its lagged copy for
reanalysis); beyond Dynamo's default limit of 8 it would silently fall back to eager."""

_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def padded_size(batch: int) -> int:
    """The fixed batch size a batch of `batch` rows is padded to: the next power of two."""
    return 1 << max(batch - 1, 0).bit_length()


def _pad(x: torch.Tensor, rows: int) -> torch.Tensor:
    """x [B, ...] with `rows` zero rows appended."""
    if rows == 0:
        return x
    return torch.cat([x, x.new_zeros(rows, *x.shape[1:])])


def compiled_recurrent(model: EZModel) -> Step:
    """`model.recurrent` compiled once per padded batch size (on CUDA as CUDA graphs)."""
    if model not in _compiled:
        limit = getattr(torch._dynamo.config, "recompile_limit", None)
        if limit is not None and limit < RECOMPILE_LIMIT:
            torch._dynamo.config.recompile_limit = RECOMPILE_LIMIT
        _compiled[model] = {}
    compiled = _compiled[model]

    def step(latent: torch.Tensor, action: torch.Tensor, hidden=None) -> ModelOutput:
        cuda = latent.device.type == "cuda"
        mode = "reduce-overhead" if cuda else "default"
        if mode not in compiled:
            compiled[mode] = torch.compile(model.recurrent, mode=mode, dynamic=False)
        batch = latent.shape[0]
        extra = padded_size(batch) - batch
        inputs = tree_map_only(torch.Tensor, lambda x: _pad(x, extra), (latent, action, hidden))
        if cuda:  # the last step's outputs are already copied into the tree: the graph may reuse them
            torch.compiler.cudagraph_mark_step_begin()
        out = compiled[mode](*inputs)
        return ModelOutput(**{f.name: tree_map_only(torch.Tensor, lambda x: x[:batch], getattr(out, f.name))
                              for f in dataclasses.fields(out)})

    return step
