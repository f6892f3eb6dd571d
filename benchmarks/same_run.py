"""Do two runs of one config and seed write the same metrics? Compare metrics.jsonl line by line,
every field but `wall_s`, and write the verdict as JSON.

    python benchmarks/same_run.py RUN_A RUN_B --label "cartpole seed 0, 2,000 env steps" \
        --commits OLD NEW --out benchmarks/results/same-run-cartpole.json

For a refactoring that must not change what a run computes: the same preset and seed at the
commit before it and after it (each run from a `git worktree` at its commit).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def lines(run_dir: Path) -> list[dict]:
    """The run's metrics lines without their wall-clock times."""
    text = (run_dir / "metrics.jsonl").read_text()
    return [{k: v for k, v in json.loads(x).items() if k != "wall_s"} for x in text.splitlines()]


def compare(a: list[dict], b: list[dict]) -> dict:
    """Whether the lines are equal, and where they first differ (which fields, both values)."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            keys = sorted(k for k in x.keys() | y.keys() if x.get(k) != y.get(k))
            return {
                "identical": False,
                "first_difference": {"line": i, "fields": {k: [x.get(k), y.get(k)] for k in keys}},
            }
    return {"identical": len(a) == len(b), "lines": [len(a), len(b)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--label", required=True)
    parser.add_argument("--commits", nargs=2, metavar=("A", "B"), required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    a, b = lines(args.run_a), lines(args.run_b)
    result = {
        "label": args.label,
        "commits": args.commits,
        **compare(a, b),
        "eval_returns": [
            [m["env_steps"], m["eval_return_mean"]] for m in a if "eval_return_mean" in m
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "eval_returns"}))


if __name__ == "__main__":
    main()
