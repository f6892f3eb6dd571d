"""Subnormal weights and the CPU: count them in a trained checkpoint and time the recurrent step.

    python benchmarks/subnormals.py MODEL.pt [MODEL.pt ...] --preset cartpole

For each model file (a run's checkpoints/latest/model.pt) it counts the parameters and
buffers whose float32 value is subnormal (0 < |x| < 1.18e-38), per module, and times one
recurrent inference at batch 384 (a reanalysis search's batch for CartPole: 64 x 6 roots)
with subnormals flushed to zero (what ezv2_lite sets on import) and without, next to a
freshly initialised model. The four timings of a model run one after the other in the same
process, so their ratios are comparable on a busy machine; each figure is the median of
`repeats` calls. Discrete state presets only (the recurrent step is fed action 0).
Writes benchmarks/results/subnormals.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: ezv2_lite
from ezv2_lite.envs import probe_spec
from ezv2_lite.model import build_model
from ezv2_lite.presets import preset
from ezv2_lite.tools.bench import machine_info

TINY = torch.finfo(torch.float32).tiny  # the smallest normal float32, 1.18e-38


def subnormal_counts(state: dict) -> dict[str, int]:
    """{module name: number of subnormal entries} for the float tensors of a state dict.

    Counted with flushing off: with denormals-are-zero in force a subnormal compares equal to 0."""
    counts = Counter()
    torch.set_flush_denormal(False)
    try:
        for name, tensor in state.items():
            if tensor.is_floating_point():
                n = int(((tensor != 0) & (tensor.abs() < TINY)).sum())
                if n:
                    counts[name.rsplit(".", 1)[0]] += n
    finally:
        torch.set_flush_denormal(True)
    return dict(counts)


@torch.no_grad()
def recurrent_ms(model, batch: int, flush: bool, repeats: int) -> float:
    torch.set_flush_denormal(flush)
    try:
        latent = model.represent(torch.zeros(batch, *model.spec.obs_shape))
        action = torch.zeros(batch, dtype=torch.long)
        model.recurrent(latent, action)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.recurrent(latent, action)
            times.append(1e3 * (time.perf_counter() - start))
        return statistics.median(times)
    finally:
        torch.set_flush_denormal(True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--preset", default="cartpole")
    parser.add_argument("--batch", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", default="benchmarks/results/subnormals.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = preset(args.preset)
    spec = probe_spec(config.env, 0)
    if not spec.is_discrete or config.model.encoder != "state":
        parser.error(f"--preset {args.preset}: this benchmark times discrete state models only")
    torch.manual_seed(0)
    fresh = build_model(config, spec).eval()
    results = {
        "benchmark": "subnormals",
        "preset": args.preset,
        "batch": args.batch,
        "repeats": args.repeats,
        "machine": machine_info(1),
        "models": {},
    }
    for path in args.models:
        trained = build_model(config, spec).eval()
        trained.load_state_dict(torch.load(path, weights_only=True))
        counts = subnormal_counts(trained.state_dict())
        row = {
            "subnormal_entries": sum(counts.values()),
            "by_module": counts,
            "parameters": sum(p.numel() for p in trained.parameters()),
        }
        for label, model in (("trained", trained), ("fresh", fresh)):
            for flush in (False, True):
                row[f"{label}_ms_{'flushed' if flush else 'not_flushed'}"] = round(
                    recurrent_ms(model, args.batch, flush, args.repeats), 3
                )
        results["models"][path] = row
        print(
            f"{path}: {row['subnormal_entries']} subnormal entries; recurrent step at batch "
            f"{args.batch}: trained {row['trained_ms_not_flushed']} ms without flushing, "
            f"{row['trained_ms_flushed']} ms flushed; fresh {row['fresh_ms_not_flushed']} / "
            f"{row['fresh_ms_flushed']} ms"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
