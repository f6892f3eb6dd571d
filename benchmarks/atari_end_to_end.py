"""Atari end to end: one `ezv2-lite train --preset atari` run, its wall time, peak memory and replay size.

    python benchmarks/atari_end_to_end.py                            # Pong, 4,000 env steps
    python benchmarks/atari_end_to_end.py --start-transitions 920 --train-ratio 0.02   # ... learning too

The faithful preset waits for 2,000 agent steps (8,000 env steps) before its first learner step, so a
4,000-step run collects, evaluates and checkpoints without learning. `--start-transitions` lowers
that threshold (at least the batch size, 256) so the same run also exercises the learner inside
`train`. The trainer owes `train_ratio` learner steps per agent step collected *since the start*,
so the first burst catches up on every step collected so far: at the preset's ratio of 1 that is
~1,000 learner steps of about 50 s each on one CPU thread (`benchmarks/results/learner-pixels.json`),
half a day. `--train-ratio 0.02` makes it ~20 (the threshold counts *ready* transitions, whose
n-step future is stored; a Pong game outlasts the run, so each of the 4 open episodes holds back
its newest 10 steps).

The run is a child process: its wall time is measured here and its peak resident memory is the
largest child's maximum RSS (`getrusage`). The replay's bytes per stored agent step come from the
run's checkpoint and give the memory of a full 100k-agent-step replay. Writes
benchmarks/results/atari-<game>-<env steps>[-learn].json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: ezv2_lite

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--game", default="Pong")
    parser.add_argument("--env-steps", type=int, default=4000)
    parser.add_argument(
        "--start-transitions",
        type=int,
        default=None,
        help="agent steps before the first learner step (default: the preset's 2,000)",
    )
    parser.add_argument(
        "--train-ratio",
        type=float,
        default=None,
        help="learner steps per agent step (default: the preset's 1.0)",
    )
    parser.add_argument(
        "--run-dir", type=Path, default=None, help="default: a fresh temporary folder"
    )
    args = parser.parse_args()

    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="ezv2-atari-")) / "run"
    command = [
        "ezv2-lite",
        "train",
        "--preset",
        "atari",
        "--env.name",
        args.game,
        "--total-env-steps",
        str(args.env_steps),
        "--train.offline-train-steps",
        "0",
    ]
    if args.start_transitions is not None:
        command += ["--train.start-transitions", str(args.start_transitions)]
    if args.train_ratio is not None:
        command += ["--train.train-ratio", str(args.train_ratio)]
    command += ["--run-dir", str(run_dir), "--no-progress"]
    print("$", " ".join(command), flush=True)

    start = time.perf_counter()
    executable = str(Path(sys.executable).with_name("ezv2-lite"))
    subprocess.run(
        [executable, *command[1:]], check=True, env=dict(os.environ, OMP_NUM_THREADS="1")
    )
    wall_s = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux

    from ezv2_lite.checkpoint import find_checkpoint, load_run
    from ezv2_lite.tools.bench import machine_info

    _, _, _, replay = load_run(run_dir)
    checkpoint = find_checkpoint(run_dir)
    counters = json.loads((checkpoint / "state.json").read_text())["counters"]
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    per_step = replay.nbytes / replay.num_transitions
    result = {
        "benchmark": "atari end to end",
        "command": " ".join(command[:-3]) + " --run-dir DIR --no-progress",
        "wall_s": round(wall_s, 1),
        "peak_rss_gb": round(peak_kb * 1024 / 1e9, 3),
        "agent_steps": counters["agent_steps"],
        "learner_steps": counters["train_steps"],
        "losses": [m for m in metrics if "total" in m],
        "evaluations": [m for m in metrics if "eval_return_mean" in m],
        "checkpoint": sorted(p.name for p in checkpoint.iterdir()),
        "replay_transitions": replay.num_transitions,
        "replay_bytes_per_agent_step": round(per_step),
        "replay_gb_at_100k_agent_steps": round(per_step * 100_000 / 1e9, 2),
        "machine": machine_info(threads=1),
    }
    suffix = "-learn" if (args.start_transitions, args.train_ratio) != (None, None) else ""
    out = (
        ROOT / "benchmarks" / "results" / f"atari-{args.game.lower()}-{args.env_steps}{suffix}.json"
    )
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "losses"}, indent=1))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
