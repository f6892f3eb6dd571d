"""The search's model step through `torch.compile`, at a few fixed batch sizes.

Turned on by `runtime.compile_step`; the step it compiles, the readable
`EZModel.recurrent`, stays the reference, and tests require the compiled step
to give the readable step's outputs and the compiled search to choose what the
readable one chooses. The weights are inputs of the compiled graph, so weights
updated in place (the optimizer's step, a target refresh by `load_state_dict`)
are seen.

Why: a search calls its model step once per simulation with the same shapes.
On a GPU each of the step's many small operations is a kernel launched from
Python. Compiled with `mode="reduce-overhead"`, the step is fused by Inductor
and captured as a CUDA graph, replayed in one launch. Whether that pays on a
GPU is what `benchmarks/gpu_check.sh` measures. On a CPU there is no launch to
save: compiling takes seconds per batch size and the compiled search was
0.85-0.99x the readable one's time (docs/performance.md), so the switch is off
by default.

Fixed batch sizes: every new input shape is a new compilation (and a new
graph), and a training run searches many batch sizes (acting, reanalysis, and
an evaluation whose batch shrinks as games end). The step therefore pads its
B rows with zero rows up to the next size of the form 2^k or 3 * 2^(k-1)
(fewer than half as many again; 1,536 rows stay 1,536) and cuts the outputs back to B.

On CUDA the outputs of one call live in the graph's memory and are overwritten
by the next call; the search copies them into its tree before it calls again.

Shapes: as `EZModel.recurrent`: latent [B, ...], action [B] int64 or
[B, A] float32, hidden ([B, H], [B, H]) or None; outputs batch first.
"""

from __future__ import annotations

import torch

from ..model.networks import EZModel, Hidden, ModelOutput
from ..search.search import Step

RECOMPILE_LIMIT = 64
"""Compilations Dynamo may keep for the step: one per padded batch size and model (the
acting copy, the online model and the lagged target); beyond its default of 8 it would
fall back to the uncompiled step with a warning."""

_COMPILED: dict[str, Step] = {}
"""`EZModel.recurrent` compiled, by mode; the model is an argument, so no model is kept alive."""


def padded_size(batch: int) -> int:
    """The fixed batch size `batch` rows are padded to: the smallest 2^k or 3 * 2^(k-1) >= batch."""
    power = 1 << max(batch - 1, 0).bit_length()
    return power * 3 // 4 if batch <= power * 3 // 4 and power >= 4 else power


def _pad(x: torch.Tensor, rows: int) -> torch.Tensor:
    """x [B, ...] with `rows` zero rows appended."""
    return x if rows == 0 else torch.cat([x, x.new_zeros(rows, *x.shape[1:])])


def compiled_recurrent(model: EZModel) -> Step:
    """`model.recurrent`, compiled once per padded batch size (on CUDA as CUDA graphs)."""

    def step(
        latent: torch.Tensor, action: torch.Tensor, hidden: Hidden | None = None
    ) -> ModelOutput:
        cuda = latent.device.type == "cuda"
        mode = "reduce-overhead" if cuda else "default"
        if mode not in _COMPILED:
            torch._dynamo.config.cache_size_limit = max(
                torch._dynamo.config.cache_size_limit, RECOMPILE_LIMIT
            )
            _COMPILED[mode] = torch.compile(EZModel.recurrent, mode=mode, dynamic=False)
        batch = latent.shape[0]
        extra = padded_size(batch) - batch
        if hidden is not None:
            hidden = (_pad(hidden[0], extra), _pad(hidden[1], extra))
        if cuda:  # the last call's outputs are in the tree already: the graph may overwrite them
            torch.compiler.cudagraph_mark_step_begin()
        out = _COMPILED[mode](model, _pad(latent, extra), _pad(action, extra), hidden)
        assert out.reward_logits is not None
        return ModelOutput(
            out.latent[:batch],
            out.value_logits[:batch],
            out.policy[:batch],
            out.reward_logits[:batch],
            None if out.hidden is None else (out.hidden[0][:batch], out.hidden[1][:batch]),
        )

    return step
