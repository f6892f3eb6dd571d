"""How long each notebook of the course takes to run, for the course map in 00_start_here.

    python benchmarks/notebook_times.py --setting fast     # EZV2_FAST=1, as the tests run them
    python benchmarks/notebook_times.py --setting full     # the budgets a student gets (hours on a CPU)
    python benchmarks/notebook_times.py --setting full --only 04_train_cartpole

Each notebook (and its solutions) is executed top to bottom in a fresh kernel, in a scratch copy of
notebooks/, and its wall time merged into benchmarks/results/notebooks.json under the setting and the
device it ran on ("cpu" or "cuda"); entries measured elsewhere are kept. The file records the machine.
Two copies may run at once (e.g. one thread each on a 2-core machine, each with its own --only list):
each merges its entry into the file under a lock. This script sits beside the package (it drives
Jupyter; the package never imports it).
"""
from __future__ import annotations

import sys
import argparse
import fcntl
import json
import os
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: ezv2_lite, benchmarks
from benchmarks.bench import machine_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "notebooks.json"


def record(stem: str, setting: str, device: str, seconds: float) -> None:
    """Merge one notebook's time into RESULTS (re-read under a lock, so parallel runs keep each other's)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(Path(tempfile.gettempdir()) / "ezv2-notebook-times.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"notebooks": {}}
        threads = int(os.environ.get("OMP_NUM_THREADS", "0")) or os.cpu_count()
        results["machine"] = machine_info(threads, device)
        entry = results["notebooks"].setdefault(stem, {})
        entry[f"{setting}_{device}_s"] = round(seconds, 1)
        entry[f"{setting}_{device}_date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def run_notebook(path: Path, timeout_s: int) -> float:
    """Execute `path` in place in a fresh python3 kernel; return the wall time in seconds."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout_s, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", choices=["fast", "full"], required=True)
    parser.add_argument("--only", nargs="*", default=None, help="notebook stems (default: all)")
    parser.add_argument("--timeout", type=int, default=6 * 3600, help="per cell, seconds")
    args = parser.parse_args()
    if args.setting == "fast":
        os.environ["EZV2_FAST"] = "1"
    else:
        os.environ.pop("EZV2_FAST", None)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    scratch = Path(tempfile.mkdtemp(prefix="ezv2-notebook-times-"))
    shutil.copytree(ROOT / "notebooks", scratch, dirs_exist_ok=True)
    paths = sorted(scratch.glob("[0-9]*.ipynb")) + sorted((scratch / "solutions").glob("*.ipynb"))
    for path in paths:
        stem = path.stem
        if args.only and stem not in args.only:
            continue
        print(f"{stem} ({args.setting}, {device}) ...", flush=True)
        seconds = run_notebook(path, args.timeout)
        print(f"  {seconds:,.0f} s", flush=True)
        record(stem, args.setting, device, seconds)  # after each notebook, so nothing is lost
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
