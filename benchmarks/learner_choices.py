"""The released learner's two choices against ours, on the Catch pixel test's run.

    python benchmarks/learner_choices.py run ARM --seed S [--runs-root DIR]
    python benchmarks/learner_choices.py table [--runs-root DIR]

ARM is one of ARMS: which gradient into each unrolled state is halved (`optim.state_gradient`)
and how the consistency targets are normalised (`optim.consistency_targets`), docs/algorithm.md
§5.1. Each run is the `catch` preset for 1,600 agent steps (800 learner steps) and one evaluation
of 20 episodes at the end, the pixel-learning test's run when it was measured. `table` writes
benchmarks/results/catch-learner-choices.json. (The committed file was measured with the preset's
Q min-max floor at the released 0.01, before it became 1; its `commit` says which code ran.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: ezv2_lite
from ezv2_lite.tools.bench import code_commit, machine_info

ARMS = {
    "default": ("dynamics", "pooled"),
    "released-gradient": ("all", "pooled"),
    "released-consistency": ("dynamics", "per_step"),
    "released-both": ("all", "per_step"),
}
AGENT_STEPS = 1600
OUT = Path("benchmarks/results/catch-learner-choices.json")


def run(arm: str, seed: int, root: str) -> dict:
    import torch

    from ezv2_lite.config import override
    from ezv2_lite.presets import preset
    from ezv2_lite.tools.report import evaluations, read_metrics
    from ezv2_lite.train import train

    torch.set_num_threads(1)
    gradient, consistency = ARMS[arm]
    config = override(
        preset("catch"),
        device="cpu",
        seed=seed,
        optim=dict(state_gradient=gradient, consistency_targets=consistency),
        train=dict(
            total_env_steps=AGENT_STEPS,
            eval_every_env_steps=AGENT_STEPS,
            eval_episodes=20,
            checkpoint_every_env_steps=AGENT_STEPS,
        ),
    )
    started = time.perf_counter()
    run_dir = train(config, Path(root) / f"{arm}-seed{seed}", progress=False)
    last = evaluations(read_metrics(run_dir))[-1]
    row = dict(
        arm=arm,
        seed=seed,
        state_gradient=gradient,
        consistency_targets=consistency,
        eval_return_mean=last["eval_return_mean"],
        eval_return_std=round(last["eval_return_std"], 3),
        wall_s=round(time.perf_counter() - started, 1),
        commit=code_commit(),
    )
    with open(Path(root) / "results.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row))
    return row


def table(root: str) -> dict:
    rows = [json.loads(line) for line in (Path(root) / "results.jsonl").read_text().splitlines()]
    by_arm = {
        arm: sorted((r for r in rows if r["arm"] == arm), key=lambda r: r["seed"]) for arm in ARMS
    }
    result = {
        "what": "the Catch pixel test's run (catch preset, 1,600 agent steps, 800 learner steps, "
        "20 evaluation episodes) with the released learner's choices on and off",
        "machine": machine_info(1),
        "arms": {
            arm: dict(zip(("state_gradient", "consistency_targets"), v, strict=True))
            for arm, v in ARMS.items()
        },
        "random_policy_return": -7.06,
        "runs": by_arm,
    }
    for arm, runs in by_arm.items():
        print(
            f"{arm:22s} "
            + "  ".join(f"seed {r['seed']}: {r['eval_return_mean']:+.1f}" for r in runs)
        )
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["run", "table"])
    parser.add_argument("arm", nargs="?", choices=list(ARMS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs-root", default="runs/learner-choices")
    args = parser.parse_args()
    if args.what == "run":
        if args.arm is None:
            parser.error(f"name an arm: {', '.join(ARMS)}")
        run(args.arm, args.seed, args.runs_root)
    else:
        table(args.runs_root)
