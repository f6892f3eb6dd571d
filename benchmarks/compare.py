"""Time one `ezv2-lite bench` command at two commits, alternately, and write the ratios.

    python benchmarks/compare.py --old ../old-worktree --rounds 3 \
        --out benchmarks/results/compare-search.json -- bench search --presets dmc_state --batches 1 256

The old commit is a `git worktree` of it; the new one is this checkout. Each round runs
the command once at each commit (old first, then new), one process at a time, so both
see the same machine (with --parallel, both at once, one per core: for long runs); the
figure of each setting is the median over the rounds of each run's own median, and the
ratio is new / old (below 1: the new code is faster). Reads `bench search` (median_ms per
preset and batch), `bench learner` (median total ms per preset) and `bench e2e` (wall
seconds per preset) results.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ezv2_lite.tools.bench import code_commit  # noqa: E402


def figures(result: dict) -> dict[str, float]:
    """{setting: milliseconds or seconds} of one bench result."""
    out = {}
    for preset, entry in result["presets"].items():
        if "batches" in entry:  # bench search
            for batch, run in entry["batches"].items():
                out[f"{preset} batch {batch} (ms)"] = run["median_ms"]
        elif isinstance(entry.get("median_ms"), dict):  # bench learner
            out[f"{preset} learner step (ms)"] = entry["median_ms"]["total"]
        elif "wall_s" in entry:  # bench e2e
            out[f"{preset} end to end (s)"] = entry["wall_s"]
    return out


def start(tree: Path, command: list[str], out: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(tree))
    # (the command line moved into ezv2_lite/tools/; an older commit has it at ezv2_lite/cli.py)
    cli = (
        "ezv2_lite.tools.cli"
        if (tree / "ezv2_lite" / "tools" / "cli.py").exists()
        else "ezv2_lite.cli"
    )
    return subprocess.Popen(
        [sys.executable, "-m", cli, *command, "--out", str(out)],
        cwd=tree,
        env=env,
    )


def finish(process: subprocess.Popen, out: Path) -> dict[str, float]:
    if process.wait() != 0:
        raise SystemExit(f"{' '.join(process.args)} failed")
    return figures(json.loads(out.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--old", required=True, help="a worktree of the commit to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", required=True)
    parser.add_argument("--parallel", action="store_true", help="run both commits at once")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- bench ... (without --out)")
    args = parser.parse_args()
    command = [c for c in args.command if c != "--"]
    new, old = Path(__file__).resolve().parents[1], Path(args.old).resolve()
    trees = {"old": old, "new": new}
    runs: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            print(
                f"round {round_ + 1}/{args.rounds}: old ({old}), then new ({new})"
                + (", at once" if args.parallel else ""),
                flush=True,
            )
            outs = {label: Path(scratch) / f"{label}.json" for label in ("old", "new")}
            if args.parallel:
                processes = {
                    label: start(tree, command, outs[label]) for label, tree in trees.items()
                }
                results = {label: finish(p, outs[label]) for label, p in processes.items()}
            else:
                results = {
                    label: finish(start(tree, command, outs[label]), outs[label])
                    for label, tree in trees.items()
                }
            for label, result in results.items():
                for setting, value in result.items():
                    runs[label].setdefault(setting, []).append(value)
    summary = {}
    for setting, old_values in runs["old"].items():
        if setting not in runs["new"]:
            print(f"{setting}: measured at the old commit only")
            continue
        old_median = statistics.median(old_values)
        new_median = statistics.median(runs["new"][setting])
        summary[setting] = {
            "old": round(old_median, 2),
            "new": round(new_median, 2),
            "ratio_new_over_old": round(new_median / old_median, 3),
            "old_runs": old_values,
            "new_runs": runs["new"][setting],
        }
        print(
            f"{setting:40s} old {old_median:10.1f}  new {new_median:10.1f}  "
            f"new/old {new_median / old_median:.3f}"
        )
    result = {
        "benchmark": "compare",
        "command": ["ezv2-lite", *command],
        "rounds": args.rounds,
        "parallel": args.parallel,
        "old_commit": code_commit(old / "ezv2_lite"),
        "new_commit": code_commit(new / "ezv2_lite"),
        "settings": summary,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
