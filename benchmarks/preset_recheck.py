"""The state presets again, against their committed curves: for each finished run of
`ezv2-lite train --preset P --seed S`, the evaluation curve, the first env step at or above
the preset's bar (CartPole 475, Pendulum -250) and the committed curve of the same seed.

    python benchmarks/preset_recheck.py RUN_DIR [RUN_DIR ...] --commit SHA \
        --out benchmarks/results/state-presets-recheck.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
BARS = {"cartpole": 475.0, "pendulum": -250.0}


def curve(run_dir: Path) -> list[list[float]]:
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [
        [m["env_steps"], round(m["eval_return_mean"], 1)] for m in lines if "eval_return_mean" in m
    ]


def first_at_or_above(points: list[list[float]], bar: float) -> int | None:
    return next((int(x) for x, y in points if y >= bar), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = {}
    for run in args.runs:
        config = json.loads((run / "config.json").read_text())
        preset, seed = config["preset"], str(config["seed"])
        committed = json.loads((RESULTS / f"{preset}.json").read_text())["seeds"].get(seed, {})
        points, bar = curve(run), BARS[preset]
        rows[f"{preset}-seed{seed}"] = {
            "finished": bool(points) and points[-1][0] >= config["train"]["total_env_steps"],
            "evaluations": points,
            "first_env_steps_at_or_above_bar": first_at_or_above(points, bar),
            "committed_evaluations": committed.get("evaluations"),
            "committed_first_at_or_above_bar": first_at_or_above(
                committed.get("evaluations", []), bar
            ),
        }
    result = {"commit": args.commit, "bars": BARS, "runs": rows}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name, row in rows.items():
        print(
            f"{name}: first >= bar at {row['first_env_steps_at_or_above_bar']} "
            f"(committed {row['committed_first_at_or_above_bar']}); final "
            f"{row['evaluations'][-1][1] if row['evaluations'] else None}; finished {row['finished']}"
        )


if __name__ == "__main__":
    main()
