"""Screening of CPU-sized pixel presets: short runs of a few arms, then a table.

    python benchmarks/screening.py run ARM [--study S] [--seed 0] [--env-steps 6000] [--runs-root DIR]
    python benchmarks/screening.py table [--study S] [--runs-root DIR]

(each study's runs in a folder of their own: runs/screening, runs/screening-bias)

Two studies, both `dmc_image_small` on cartpole-balance:

- `preset` (the default): how the preset was chosen, arms against the preset as it was
  before (OLD below) -> benchmarks/results/dmc_image_small-screening.json;
- `bias`: what makes the screened preset's search push the pole over (docs/algorithm.md
  §5.1): the learning rate for batch 64, the mixed value target, root samples per
  simulation, the released learner's gradient halving and consistency targets, batch size;
  arms against the preset with its mixed value target scaled to the screening run ->
  benchmarks/results/dmc_image_small-bias-screening.json.

`run` trains (or, when its run directory has a checkpoint, resumes) one arm with the arm's
overrides. Every arm's settings are written out in full below, so later changes to the preset
do not change what an arm means. `table` reads every arm's run directory and writes the
study's JSON: the settings, the evaluations, the policy's mean sigma at the roots over the
last logged learner steps and, where logged, the evaluations' root diagnostics, with the
commit each run was made from.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: ezv2_lite
from ezv2_lite.tools.bench import code_commit

# The old `dmc_image_small` (before the screening): m = 8 of K = 16, Adam 1e-3, 16 simulations,
# mixed value target from learner step 4,000 with a 4,000-transition window (which a
# 6,000-env-step screening run, about 2,000 learner steps, does not reach). Every arm runs
# with the continuous policy target restricted to visited samples (docs/algorithm.md).
OLD = {
    "--search.num-top-actions": "8",
    "--optim.optimizer": "adam",
    "--optim.lr": "1e-3",
    "--optim.weight-decay": "2e-5",
    "--optim.warmup-steps": "500",
    "--search.num-simulations": "16",
    "--model.channels": "16",
    "--env.image-size": "64",
    "--optim.mixed-value-start-step": "4000",
    "--optim.mixed-value-window": "4000",
    "--optim.batch-size": "64",
    "--train.start-transitions": "1000",
    "--train.train-ratio": "1.0",
}
# The released DMC-pixels optimiser (SGD 0.2, momentum 0.9, weight decay 1e-4).
SGD = {
    "--optim.optimizer": "sgd",
    "--optim.lr": "0.2",
    "--optim.momentum": "0.9",
    "--optim.weight-decay": "1e-4",
    "--optim.warmup-steps": "1000",
}
ALL_SAMPLES = {"--search.num-top-actions": "16"}  # m = K: every sampled root action is searched

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
# The `bias` study. A 6,000-env-step run is 3,000 agent steps and 2,000 learner steps, a fifth
# of the preset's 10,000: its mixed value target starts half-way as the preset's does (learner
# step 1,000 instead of 5,000), with the newest 1,200 transitions fresh (4,000 of 10,000 in the
# preset: the same share). Everything else is the preset's, written out.
BIAS_BASE = {
    "--optim.optimizer": "sgd",
    "--optim.lr": "0.2",
    "--optim.momentum": "0.9",
    "--optim.weight-decay": "1e-4",
    "--optim.warmup-steps": "1000",
    "--optim.batch-size": "64",
    "--search.num-simulations": "16",
    "--search.policy-samples": "4",
    "--search.widened-samples": "12",
    "--optim.mixed-value-start-step": "1000",
    "--optim.mixed-value-window": "1200",
    "--optim.state-gradient": "dynamics",
    "--optim.consistency-targets": "pooled",
}
BIAS_ARMS: dict[str, dict[str, str]] = {
    "base": BIAS_BASE,
    "lr-0.05": BIAS_BASE | {"--optim.lr": "0.05"},  # 0.2 is for batch 256; scaled to 64
    "td-only": BIAS_BASE | {"--optim.mixed-value-start-step": "1000000"},  # no SVE targets
    "samples-8": BIAS_BASE | {"--search.policy-samples": "2", "--search.widened-samples": "6"},
    "samples-4": BIAS_BASE | {"--search.policy-samples": "1", "--search.widened-samples": "3"},
    "released-gradient": BIAS_BASE | {"--optim.state-gradient": "all"},
    "released-consistency": BIAS_BASE | {"--optim.consistency-targets": "per_step"},
    "batch-128": BIAS_BASE | {"--optim.batch-size": "128"},
}
TASK = "cartpole-balance"
STUDIES = {
    "preset": (ARMS, Path("benchmarks/results/dmc_image_small-screening.json")),
    "bias": (BIAS_ARMS, Path("benchmarks/results/dmc_image_small-bias-screening.json")),
}


def run_dir(root: str, arm: str, seed: int) -> Path:
    return Path(root) / f"{arm}-seed{seed}"


def run(study: str, arm: str, seed: int, env_steps: int, root: str) -> None:
    arms, _ = STUDIES[study]
    directory = run_dir(root, arm, seed)
    if (directory / "checkpoints").exists():
        command = ["ezv2-lite", "train", "--resume", str(directory)]
    else:
        flags = [x for item in arms[arm].items() for x in item]
        command = [
            "ezv2-lite",
            "train",
            "--preset",
            "dmc_image_small",
            "--env.name",
            TASK,
            "--seed",
            str(seed),
            "--total-env-steps",
            str(env_steps),
            "--train.eval-every-env-steps",
            "2000",
            "--train.checkpoint-every-env-steps",
            "1000",
            *flags,
            "--run-dir",
            str(directory),
        ]
        directory.parent.mkdir(parents=True, exist_ok=True)
        (directory.parent / f"{arm}-seed{seed}.commit").write_text(f"{code_commit()}\n")
    print(" ".join(command), flush=True)
    subprocess.run(command, check=True)


def table(study: str, root: str) -> dict:
    arms, out = STUDIES[study]
    rows = {}
    for commit_file in sorted(Path(root).glob("*.commit")):
        name = commit_file.stem
        arm, seed = name.rsplit("-seed", 1)
        lines = [
            json.loads(x) for x in (Path(root) / name / "metrics.jsonl").read_text().splitlines()
        ]
        evals = [m for m in lines if "eval_return_mean" in m]
        losses = [m for m in lines if "root_policy_sigma" in m]
        last = losses[-3:]
        rows[name] = {
            "arm": arm,
            "seed": int(seed),
            "commit": commit_file.read_text().strip(),
            "settings": arms[arm],
            "env_steps_done": lines[-1]["env_steps"] if lines else 0,
            "wall_s": lines[-1]["wall_s"] if lines else 0.0,
            "evaluations": [[m["env_steps"], round(m["eval_return_mean"], 1)] for m in evals],
            "root_value_std": [
                round(m["eval_root_value_std"], 3) for m in evals if "eval_root_value_std" in m
            ],
            "first_actions_mean": [
                round(
                    float(
                        sum(a[0] for a in m["eval_first_action_mean"])
                        / len(m["eval_first_action_mean"])
                    ),
                    3,
                )
                for m in evals
                if "eval_first_action_mean" in m
            ],
            "root_policy_sigma_end": round(sum(m["root_policy_sigma"] for m in last) / len(last), 3)
            if last
            else None,
        }
        print(
            f"{name:28s} {rows[name]['env_steps_done']:>6} env steps  evaluations "
            f"{rows[name]['evaluations']}  sigma at the end {rows[name]['root_policy_sigma_end']}"
        )
    result = {
        "what": f"screening arms for dmc_image_small on {TASK} (benchmarks/screening.py, study {study})",
        "arms": arms,
        "runs": rows,
    }
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["run", "table"])
    parser.add_argument("arm", nargs="?", choices=sorted(set(ARMS) | set(BIAS_ARMS)))
    parser.add_argument("--study", choices=list(STUDIES), default="preset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env-steps", type=int, default=6000)
    parser.add_argument(
        "--runs-root",
        default=None,
        help="default: runs/screening (the preset study), runs/screening-bias (the bias study)",
    )
    args = parser.parse_args()
    args.runs_root = args.runs_root or (
        "runs/screening" if args.study == "preset" else f"runs/screening-{args.study}"
    )
    if args.what == "run":
        arms = STUDIES[args.study][0]
        if args.arm not in arms:
            parser.error(f"name an arm of the {args.study} study: {', '.join(arms)}")
        run(args.study, args.arm, args.seed, args.env_steps, args.runs_root)
    else:
        table(args.study, args.runs_root)
