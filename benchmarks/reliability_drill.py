"""The reliability drill: a cartpole run killed with SIGKILL at random moments (some of them
while a checkpoint is being written) and resumed each time; a corrupted checkpoint; a run
whose weights become NaN. Writes JSON (default benchmarks/results/reliability-drill.json).

    python benchmarks/reliability_drill.py [--kills 20] [--seed 0] [--out FILE]

Checked against an uninterrupted run of the same seed:
- every resume succeeds, and the run ends with the same learner and agent step counts;
- metrics.jsonl holds every loss and evaluation line exactly once, at the same env steps as
  the uninterrupted run's (a resume discards what the killed process logged after its last
  checkpoint, which the resumed run logs again);
- the final replay holds exactly the transitions its counters say were collected;
- a checkpoint whose files were cut short is reported in one line and the run resumes from
  the one before it;
- a run whose weights become NaN stops with a message and keeps its last good checkpoint.
The curves themselves differ after a resume (the environments start new episodes), which
the design does not promise otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: ezv2_lite

ROOT = Path(__file__).resolve().parents[1]
RUN = [
    "--preset",
    "cartpole",
    "--optim.batch-size",
    "16",
    "--train.start-transitions",
    "64",
    "--search.num-simulations",
    "4",
    "--train.eval-episodes",
    "2",
    "--train.train-ratio",
    "0.25",
    "--train.eval-every-env-steps",
    "1000",
    "--train.log-every-env-steps",
    "100",
    "--train.checkpoint-every-env-steps",
    "200",
    "--train.num-envs",
    "2",
    "--model.latent-dim",
    "16",
    "--model.hidden-dim",
    "16",
    "--total-env-steps",
    "8000",
    "--no-progress",
]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ezv2_lite.tools.cli", *args]


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def keyed(lines: list[dict]) -> list[tuple]:
    """Loss and evaluation lines by (kind, env steps, learner steps)."""
    return [
        ("eval" if "eval_return_mean" in m else "loss", m["env_steps"], m["train_steps"])
        for m in lines
        if "total" in m or "eval_return_mean" in m
    ]


def final_state(run: Path) -> tuple[dict, int]:
    """The final checkpoint's counters, and its transitions: those in the replay and the last
    steps of open episodes still waiting for their values (stored on a resume)."""
    checkpoint = run / "checkpoints" / "latest"
    counters = json.loads((checkpoint / "state.json").read_text())["counters"]
    with (
        np.load(checkpoint / "replay.npz", allow_pickle=False) as replay,
        np.load(checkpoint / "pending.npz", allow_pickle=False) as pending,
    ):
        stored = int(replay["lengths"].sum()) + len(pending["slots"])
    return counters, stored


def kill_and_resume(run: Path, kills: int, rng: np.random.Generator, env: dict, log) -> list[dict]:
    events = []
    process = subprocess.Popen(
        command("train", *RUN, "--seed", "0", "--run-dir", str(run)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tmp = run / "checkpoints" / "tmp"
    for kill in range(kills):
        started = time.time()
        during_write = kill % 4 == 3  # every fourth kill waits for a checkpoint being written
        delay = rng.uniform(4.0, 10.0)  # a resumed process takes 2-4 s to start
        while process.poll() is None:
            if not (run / "checkpoints" / "latest" / "COMPLETE").exists():
                pass  # the first kill comes after the first checkpoint, so that there is one to resume
            elif during_write and tmp.exists() and tmp.stat().st_mtime > started:
                break
            elif not during_write and time.time() - started > delay:
                break
            time.sleep(0.002)
        if process.poll() is not None:
            log(f"kill {kill + 1}: the run had already finished")
            events.append({"kill": kill + 1, "finished_before_the_kill": True})
            break
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        writing = tmp.exists() and tmp.stat().st_mtime > started and not (tmp / "COMPLETE").exists()
        state = json.loads((run / "checkpoints" / "latest" / "state.json").read_text())["counters"]
        events.append(
            {
                "kill": kill + 1,
                "after_s": round(time.time() - started, 2),
                "while_a_checkpoint_was_written": writing,
                "checkpoint_agent_steps": state["agent_steps"],
                "metrics_lines_when_killed": len((run / "metrics.jsonl").read_text().splitlines()),
            }
        )
        log(
            f"kill {kill + 1}: after {events[-1]['after_s']} s, checkpoint at {state['agent_steps']} agent "
            f"steps{', during a checkpoint write' if writing else ''}"
        )
        process = subprocess.Popen(
            command("train", "--resume", str(run), "--no-progress"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    output, _ = process.communicate()
    events.append({"final_exit_code": process.returncode})
    if process.returncode:
        raise SystemExit(f"the last resume failed:\n{output}")
    return events


def corrupted_checkpoint(run: Path, env: dict) -> dict:
    """Cut `latest`'s model file short, then resume with a larger budget."""
    model = run / "checkpoints" / "latest" / "model.pt"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    result = subprocess.run(
        command("train", "--resume", str(run), "--total-env-steps", "8400", "--no-progress"),
        env=env,
        capture_output=True,
        text=True,
    )
    notice = [
        line
        for line in result.stdout.splitlines()
        if "resuming from the checkpoint before it" in line
    ]
    return {
        "exit_code": result.returncode,
        "notice": notice,
        "final_env_steps": metrics(run)[-1]["env_steps"],
    }


def nan_stop(tmp: Path) -> dict:
    """A run in this process whose weights are made NaN at learner step 120 (after its first
    checkpoints): it must stop with a message and keep a finite checkpoint."""
    import torch

    from ezv2_lite.checkpoint import find_checkpoint, load_tensors
    from ezv2_lite.learner import Learner
    from ezv2_lite.tools import cli

    update = Learner.update

    def poisoned(self, batch, targets):
        if self.steps == 120:
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("nan"))
        return update(self, batch, targets)

    Learner.update = poisoned
    run, stderr = tmp / "nan", io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            cli.main(["train", *RUN, "--seed", "0", "--run-dir", str(run)])
        code = 0
    except SystemExit as stop:
        code = stop.code
    finally:
        Learner.update = update
    message = stderr.getvalue().strip()
    weights = load_tensors(find_checkpoint(run), "model")
    finite = all(torch.isfinite(w).all().item() for w in weights.values() if w.is_floating_point())
    state = json.loads((find_checkpoint(run) / "state.json").read_text())["counters"]
    return {
        "exit_code": code,
        "message": message,
        "checkpoint_finite": finite,
        "checkpoint_train_steps": state["train_steps"],
    }


def main() -> None:
    from ezv2_lite.tools.bench import code_commit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results" / "reliability-drill.json")
    )
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("an uninterrupted run ...", flush=True)
        subprocess.run(
            command("train", *RUN, "--seed", "0", "--run-dir", str(tmp / "reference")),
            env=env,
            check=True,
            capture_output=True,
        )
        print(f"the same run, killed {args.kills} times ...", flush=True)
        events = kill_and_resume(
            tmp / "drill", args.kills, rng, env, lambda m: print(m, flush=True)
        )
        reference, drilled = keyed(metrics(tmp / "reference")), keyed(metrics(tmp / "drill"))
        (ref_counters, ref_stored), (counters, stored) = (
            final_state(tmp / "reference"),
            final_state(tmp / "drill"),
        )
        kills = [e for e in events if "after_s" in e]
        results = {
            "benchmark": "reliability-drill",
            "code_commit": code_commit(),
            "run": RUN,
            "kills": len(kills),
            "resumed": sum(1 for _ in kills),
            "kills_during_a_checkpoint_write": sum(
                e["while_a_checkpoint_was_written"] for e in kills
            ),
            "events": events,
            "loss_and_eval_lines": len(drilled),
            "reference_lines": len(reference),
            "lines_duplicated": len(drilled) - len(set(drilled)),
            "lines_as_in_the_uninterrupted_run": drilled == reference,
            "counters": {k: counters[k] for k in ("agent_steps", "train_steps")},
            "reference_counters": {k: ref_counters[k] for k in ("agent_steps", "train_steps")},
            "replay_transitions": stored,
            "reference_replay_transitions": ref_stored,
        }
        print("a corrupted checkpoint ...", flush=True)
        results["corrupted_checkpoint"] = corrupted_checkpoint(tmp / "drill", env)
        print("a run whose weights become NaN ...", flush=True)
        results["nan_stop"] = nan_stop(tmp)
    results["passed"] = bool(
        results["lines_duplicated"] == 0
        and results["lines_as_in_the_uninterrupted_run"]
        and results["counters"] == results["reference_counters"]
        and results["replay_transitions"] == results["counters"]["agent_steps"]
        and results["corrupted_checkpoint"]["exit_code"] == 0
        and results["corrupted_checkpoint"]["notice"]
        and results["nan_stop"]["exit_code"] not in (0, None)
        and results["nan_stop"]["checkpoint_finite"]
    )
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    summary = {k: v for k, v in results.items() if k not in ("events", "run")}
    print(json.dumps(summary, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
