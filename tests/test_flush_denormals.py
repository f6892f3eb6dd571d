"""Subnormal floats are flushed to zero in every process that computes with ezv2-lite on a CPU.

Subnormal weights made CPU training slow down as it went (docs/performance.md). The flag
is per process, so each entry point is checked in a fresh interpreter: the CLI (train,
eval, report, bench), the training loop, evaluation, the benchmarks, the reanalysis
worker's module (what its spawned process imports) and the notebooks' course setting.
"""

import subprocess
import sys

import pytest

import ezv2_lite

# Flushing needs the x86 flags (FTZ/DAZ); elsewhere torch.set_flush_denormal returns False.
pytestmark = pytest.mark.skipif(
    not ezv2_lite.FLUSH_DENORMALS, reason="this CPU cannot flush subnormal floats to zero"
)

# Two threads and a large tensor, so that the intra-op thread pool does part of the work.
PROBE = """
import torch
torch.set_num_threads(2)
tiny = torch.tensor([1e-30]) * torch.tensor([1e-10])           # 1e-40 is subnormal in float32
big = torch.full((1 << 16,), 1e-30) * 1e-10
print(tiny.item(), int((big != 0).sum()))
"""

ENTRY_POINTS = [
    "ezv2_lite.tools.cli",
    "ezv2_lite.train",
    "ezv2_lite.evaluate",
    "ezv2_lite.tools.bench",
    "ezv2_lite.reanalysis_worker",
    "ezv2_lite.tools.course",
]


def _probe(first_import: str) -> tuple[float, int]:
    code = (f"import {first_import}\n" if first_import else "") + PROBE
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    tiny, nonzero = out.stdout.split()
    return float(tiny), int(nonzero)


def test_without_the_package_a_subnormal_product_is_not_flushed():
    """The check below can fail: plain torch keeps subnormal results."""
    tiny, nonzero = _probe("")
    assert tiny > 0 and nonzero == 1 << 16


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_every_entry_point_flushes_subnormals(module):
    tiny, nonzero = _probe(module)
    assert tiny == 0.0 and nonzero == 0
