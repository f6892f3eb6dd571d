"""Faster forms of the readable code, composed from above (docs/performance.md).

Nothing in the readable package imports this one: it imports the readable
modules and offers faster versions of their hot spots, each held equal to the
reference by a test. Importing it registers them; the command line
(`ezv2-lite`) and the benchmarks do, and a notebook may.

- `fused`: the search's model step for state models (`fused.py`): the same
  arithmetic as `StateModel.recurrent` in about thirty tensor operations
  instead of fifty modules. Switched on by `runtime.fused_inference`.
- `compiled`: the search's model step through `torch.compile`, padded to a
  few fixed batch sizes, captured as CUDA graphs on a GPU (`compiled.py`).
  Switched on by `runtime.compile_step`.
"""

from ..search.search import FASTER_STEPS
from .compiled import compiled_recurrent
from .fused import FusedRecurrent, fused_recurrent

FASTER_STEPS["fused"] = fused_recurrent
FASTER_STEPS["compiled"] = compiled_recurrent

__all__ = ["FusedRecurrent", "compiled_recurrent", "fused_recurrent"]
