"""ezv2-lite: a readable, tested EfficientZero V2 (Wang et al., ICML 2024).

The package is organised one concept per module (README.md, "Layout"; docs/algorithm.md
maps each concept of the paper to its module):
`config`, `envs`, `model`, `returns`, `search`, `replay`, `targets`, `learner`, `actor`,
`train`, `evaluate`, `checkpoint`; `accel` holds faster forms composed from above, and
`tools` the command line, reports, sweeps, agents and benchmarks built on all of them. It
never imports Jupyter; the `viz` package and the notebooks sit on top of it.
"""

import torch as _torch

__version__ = "0.1.0"

# Subnormal floats (|x| < 1.2e-38 in float32) take a slow microcode path on x86 CPUs:
# 10-100x slower per operation. Weights that get almost no gradient but keep their weight
# decay shrink geometrically towards 0 and become subnormal after a few thousand learner
# steps, so a CPU run slowed down as it trained (4x by 6,000 CartPole env steps). Flushing
# them to zero (FTZ/DAZ) changes no result that matters (the values are below 1e-38) and
# keeps every step as fast as the first. It is set here, on import, so that every entry
# point that computes on the CPU (training, evaluation, the benchmarks, the reanalysis
# worker's process, the notebooks) has it; CUDA is unaffected. docs/performance.md.
FLUSH_DENORMALS = _torch.set_flush_denormal(True)
"""True where the CPU supports flushing subnormal floats to zero (x86 with SSE3)."""

FAST_ENV_VAR = "EZV2_FAST"
"""Set to 1 to shrink training budgets in notebooks and examples (CI does); code paths are unchanged."""


def fast_mode() -> bool:
    """True when the EZV2_FAST environment variable asks for small budgets (CI, quick looks)."""
    import os

    return os.environ.get(FAST_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}
