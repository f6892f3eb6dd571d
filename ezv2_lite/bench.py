"""Benchmarks behind `ezv2-lite bench ...`; results are JSON files under benchmarks/results/.

    ezv2-lite bench search [--presets dmc_state atari] [--batches 1 4 256 1536] [--repeats 5]

`search` times one call of the batched search (after the roots' representation
pass, which the caller has anyway) on networks of the preset's full size with
random weights, one thread, and reports the median of `repeats` calls after a
warm-up call. Figures of other implementations measured on this machine kind
(ezv2-algorithm's platform notes) are stored beside ours for comparison.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from .config import preset
from .envs import EnvSpec
from .model import build_model
from .search import search, search_budget

# Shapes of the benchmark tasks: DMC walker from state (24 numbers, 6 joints),
# an Atari game with the full 18-action set.
BENCH_SPECS = {
    "dmc_state": EnvSpec((24,), "float32", "continuous", None, 6, 2, 1),
    "dmc_image": EnvSpec((12, 96, 96), "uint8", "continuous", None, 6, 2, 4),
    "atari": EnvSpec((12, 96, 96), "uint8", "discrete", 18, None, 4, 4),
    "cartpole": EnvSpec((4,), "float32", "discrete", 2, None, 1, 1),
}

# The authors' released search (Cython tree + PyTorch, 1 thread, random weights) on this
# machine kind, in ms per call (platform-notes.md), and the goals for ezv2-lite.
REFERENCE_MS = {
    "dmc_state": {"authors": {1: 86.0, 256: 362.0}, "goal": {1: 17.0, 256: 180.0}},
    "atari": {"authors": {1: 99.0, 256: 1191.0}, "goal": {1: 20.0, 256: 800.0}},
}


@dataclass
class SearchBenchArgs:
    """Time one batched search call per preset and batch size."""

    presets: tuple[str, ...] = ("dmc_state", "atari")
    batches: tuple[int, ...] = (1, 4, 256, 1536)
    repeats: int = 5
    """Timed calls per setting (after one warm-up call); the median is reported."""
    threads: int = 1
    out: str = "benchmarks/results/search.json"
    seed: int = 0


def machine_info(threads: int) -> dict:
    return {"cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": threads, "device": "cpu",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def bench_search(args: SearchBenchArgs, log=print) -> dict:
    """Run the search benchmark, write `args.out`, return the results."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    results = {"benchmark": "search", "machine": machine_info(args.threads),
               "method": f"median of {args.repeats} calls after 1 warm-up; search call only "
                         "(roots' initial inference excluded); random weights",
               "presets": {}}
    for name in args.presets:
        if name not in BENCH_SPECS:
            raise ValueError(f"no benchmark task for preset {name!r}; choose from {', '.join(BENCH_SPECS)}")
        if any(b < 1 for b in args.batches) or args.repeats < 1:
            raise ValueError("--batches and --repeats must be positive integers")
        config, spec = preset(name), BENCH_SPECS[name]
        model = build_model(config, spec).eval()
        simulations, top = search_budget(config.search, spec)
        entry = {"simulations": simulations, "root_candidates": top,
                 "actions": spec.num_actions or config.search.num_sampled_actions,
                 "batches": {}, "reference_ms": REFERENCE_MS.get(name, {})}
        for batch in args.batches:
            rng = np.random.default_rng(args.seed)
            if spec.is_image:
                obs = torch.from_numpy(rng.integers(0, 256, (batch, *spec.obs_shape), dtype=np.uint8))
            else:
                obs = torch.from_numpy(rng.standard_normal((batch, *spec.obs_shape)).astype(np.float32))
            with torch.no_grad():
                root = model.initial(obs)
            times = []
            for call in range(args.repeats + 1):
                started = time.perf_counter()
                search(model, None, config, "act", rng, root=root)
                if call:  # the first call warms up
                    times.append((time.perf_counter() - started) * 1000)
            median = statistics.median(times)
            entry["batches"][str(batch)] = {"median_ms": round(median, 2),
                                            "runs_ms": [round(t, 2) for t in times]}
            log(f"search {name:10s} batch {batch:5d}: {median:9.1f} ms "
                f"(runs {', '.join(f'{t:.0f}' for t in times)})")
        results["presets"][name] = entry
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")
    return results
