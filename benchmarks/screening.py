"""Screening of CPU-sized pixel presets: short runs of a few arms, then a table.

    python benchmarks/screening.py run ARM [--seed 0] [--env-steps 6000] [--runs-root runs/screening]
    python benchmarks/screening.py table [--runs-root runs/screening]

`run` trains (or, when its run directory has a checkpoint, resumes) one arm: the
`dmc_image_small` preset of the commit the arms were defined against, with the arm's
overrides, on cartpole-balance. Every arm's settings are written out in full below, so
later changes to the preset do not change what an arm means. `table` reads every arm's
run directory and writes benchmarks/results/dmc_image_small-screening.json: the settings,
the evaluation return at the screening budget, and the policy's mean sigma at the roots
over the last logged learner steps, with the commit each run was made from.
"""

from __future__ import annotations

import sys
import argparse
import json
import subprocess
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: ezv2_lite, benchmarks
from benchmarks.bench import code_commit

# The old `dmc_image_small` (before the screening): m = 8 of K = 16, Adam 1e-3, 16 simulations,
# mixed value target from learner step 4,000 with a 4,000-transition window (which a
# 6,000-env-step screening run, about 2,000 learner steps, does not reach). Every arm runs
# with the continuous policy target restricted to visited samples (docs/algorithm.md).
OLD = {"--search.num-top-actions": "8", "--optim.optimizer": "adam", "--optim.lr": "1e-3",
       "--optim.weight-decay": "2e-5", "--optim.warmup-steps": "500",
       "--search.num-simulations": "16", "--model.channels": "16", "--env.image-size": "64",
       "--optim.mixed-value-start-step": "4000", "--optim.mixed-value-window": "4000",
       "--optim.batch-size": "64", "--train.start-transitions": "1000", "--train.train-ratio": "1.0"}
# The released DMC-pixels optimiser (SGD 0.2, momentum 0.9, weight decay 1e-4).
SGD = {"--optim.optimizer": "sgd", "--optim.lr": "0.2", "--optim.momentum": "0.9",
       "--optim.weight-decay": "1e-4", "--optim.warmup-steps": "1000"}
ALL_SAMPLES = {"--search.num-top-actions": "16"}   # m = K: every sampled root action is searched

ARMS: dict[str, dict[str, str]] = {
    "adam-m16": OLD | ALL_SAMPLES,
    "sgd-m16": OLD | ALL_SAMPLES | SGD,
    "sgd-m16-32sims": OLD | ALL_SAMPLES | SGD | {"--search.num-simulations": "32"},
    "sgd-m16-wide": OLD | ALL_SAMPLES | SGD | {"--model.channels": "32"},
    # the search-chosen action's log-likelihood (the released rule for 2+ action dimensions)
    # instead of the K-sample weighted loss, whose 12 widened samples keep the policy wide
    # while the Q signal is weak
    "sgd-m16-simple": OLD | ALL_SAMPLES | SGD | {"--optim.continuous-policy-loss": "simple"},
}
TASK = "cartpole-balance"
OUT = Path("benchmarks/results/dmc_image_small-screening.json")


def run_dir(root: str, arm: str, seed: int) -> Path:
    return Path(root) / f"{arm}-seed{seed}"


def run(arm: str, seed: int, env_steps: int, root: str) -> None:
    directory = run_dir(root, arm, seed)
    if (directory / "checkpoints").exists():
        command = ["ezv2-lite", "train", "--resume", str(directory)]
    else:
        flags = [x for item in ARMS[arm].items() for x in item]
        command = ["ezv2-lite", "train", "--preset", "dmc_image_small", "--env.name", TASK,
                   "--seed", str(seed), "--total-env-steps", str(env_steps),
                   "--train.eval-every-env-steps", "2000", "--train.checkpoint-every-env-steps", "1000",
                   *flags, "--run-dir", str(directory)]
        directory.parent.mkdir(parents=True, exist_ok=True)
        (directory.parent / f"{arm}-seed{seed}.commit").write_text(f"{code_commit()}\n")
    print(" ".join(command), flush=True)
    subprocess.run(command, check=True)


def table(root: str) -> dict:
    rows = {}
    for commit_file in sorted(Path(root).glob("*.commit")):
        name = commit_file.stem
        arm, seed = name.rsplit("-seed", 1)
        lines = [json.loads(x) for x in (Path(root) / name / "metrics.jsonl").read_text().splitlines()]
        evals = [m for m in lines if "eval_return_mean" in m]
        losses = [m for m in lines if "root_policy_sigma" in m]
        last = losses[-3:]
        rows[name] = {
            "arm": arm, "seed": int(seed), "commit": commit_file.read_text().strip(),
            "settings": ARMS[arm], "env_steps_done": lines[-1]["env_steps"] if lines else 0,
            "wall_s": lines[-1]["wall_s"] if lines else 0.0,
            "evaluations": [[m["env_steps"], round(m["eval_return_mean"], 1)] for m in evals],
            "root_policy_sigma_end": round(sum(m["root_policy_sigma"] for m in last) / len(last), 3)
            if last else None,
        }
        print(f"{name:28s} {rows[name]['env_steps_done']:>6} env steps  evaluations "
              f"{rows[name]['evaluations']}  sigma at the end {rows[name]['root_policy_sigma_end']}")
    result = {"what": f"screening arms for dmc_image_small on {TASK} (benchmarks/screening.py)",
              "arms": ARMS, "runs": rows}
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["run", "table"])
    parser.add_argument("arm", nargs="?", choices=list(ARMS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env-steps", type=int, default=6000)
    parser.add_argument("--runs-root", default="runs/screening")
    args = parser.parse_args()
    if args.what == "run":
        if args.arm is None:
            parser.error(f"name an arm: {', '.join(ARMS)}")
        run(args.arm, args.seed, args.env_steps, args.runs_root)
    else:
        table(args.runs_root)
