"""Faster forms of the readable code, composed from above (docs/performance.md).

Nothing in the readable package imports this one: it imports the readable
modules and offers faster versions of their hot spots, each held equal to the
reference by a test. Importing it registers them; the command line
(`ezv2-lite`) and the benchmarks do, and a notebook may.

- `fused`: the search's model step for state models (`fused.py`): the same
  arithmetic as `StateModel.recurrent` in about thirty tensor operations
  instead of fifty modules. Switched on by `search.fused_inference`.
"""

from ..search.search import FASTER_STEPS
from .fused import FusedRecurrent, fused_recurrent

FASTER_STEPS["fused"] = fused_recurrent

__all__ = ["FusedRecurrent", "fused_recurrent"]
