"""How long each notebook of the course takes to run, for the course map in 00_start_here.

    python benchmarks/notebook_times.py --setting fast     # EZV2_FAST=1, as the tests run them
    python benchmarks/notebook_times.py --setting full     # the budgets a student gets (hours on a CPU)
    python benchmarks/notebook_times.py --setting full --only 04_train_cartpole
    python benchmarks/notebook_times.py --write-expected-times   # the expected-time lines above long cells

Each notebook (and its solutions) is executed top to bottom in a fresh kernel, in a scratch copy of
notebooks/, and its wall time (with the time of every code cell that took a second or more, by cell
id, under `<setting>_<device>_cells`) merged into benchmarks/results/notebooks.json under the setting and the
device it ran on ("cpu" or "cuda"); entries measured elsewhere are kept. The file records the machine.
`--write-expected-times` writes what was measured into the notebooks: above every long cell (one
that took 10 s or more, or one that trains) a markdown line starting with **Expected time** gives its expected
time; tests/test_course.py checks that these lines say what the file says.
Two copies may run at once (e.g. one thread each on a 2-core machine, each with its own --only list):
each merges its entry into the file under a lock. This script sits beside the package (it drives
Jupyter; the package never imports it).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: ezv2_lite
from ezv2_lite.tools.bench import machine_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "notebooks.json"


def record(stem: str, setting: str, device: str, seconds: float, cells: dict[str, float]) -> None:
    """Merge one notebook's time into RESULTS (re-read under a lock, so parallel runs keep each other's)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(Path(tempfile.gettempdir()) / "ezv2-notebook-times.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"notebooks": {}}
        threads = int(os.environ.get("OMP_NUM_THREADS", "0")) or os.cpu_count()
        # (the expected-time lines give CPU times, and name the CPU machine)
        results["machine" if device == "cpu" else f"machine_{device}"] = machine_info(
            threads, device
        )
        entry = results["notebooks"].setdefault(stem, {})
        entry[f"{setting}_{device}_s"] = round(seconds, 1)
        entry[f"{setting}_{device}_cells"] = cells
        entry[f"{setting}_{device}_date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def cell_seconds(cell) -> float:
    """How long a code cell ran, from the timestamps nbclient records in its metadata."""
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    return (
        datetime.fromisoformat(end.replace("Z", "+00:00"))
        - datetime.fromisoformat(start.replace("Z", "+00:00"))
    ).total_seconds()


def run_notebook(path: Path, timeout_s: int) -> tuple[float, dict[str, float]]:
    """Execute `path` in place in a fresh python3 kernel; return the wall time in seconds and the
    seconds of each code cell that took at least one, by cell id."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout_s,
        kernel_name="python3",
        record_timing=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    cells = {
        cell.id: round(cell_seconds(cell), 1) for cell in notebook.cells if cell.cell_type == "code"
    }
    return seconds, {cell_id: s for cell_id, s in cells.items() if s >= 1.0}


LONG_CELL_S = 10.0
"""A cell that takes this long (in a setting measured on the CPU) gets an expected-time line above it."""


def minutes(seconds: float | None) -> str:
    """Seconds for people, as notebook 00's table writes them: "77 s", "8 min"."""
    return (
        "—"
        if seconds is None
        else (f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s")
    )


def notebook_paths() -> list[Path]:
    return sorted(ROOT.glob("notebooks/[0-9]*.ipynb")) + sorted(
        ROOT.glob("notebooks/solutions/*.ipynb")
    )


def is_long(cell, entry: dict) -> bool:
    """A code cell that trains, runs a sweep, plays an episode (record_episode) or shows a progress bar,
    or that took LONG_CELL_S or more in a measured setting."""
    measured = [
        entry.get(f"{setting}_cpu_cells", {}).get(cell.id, 0.0) for setting in ("fast", "full")
    ]
    return cell.cell_type == "code" and (
        any(call in cell.source for call in ("train(", "tqdm(", "sweep(", "record_episode("))
        or max(measured) >= LONG_CELL_S
    )


MARKER = "**Expected time**"
"""How the expected-time line above a long cell starts (plain text: an emoji such as a stopwatch
shows as an empty box where no emoji font is installed)."""


def machine_words(machine: dict) -> str:
    """The machine the times were measured on, for people: "a 2-core x86_64 CPU (PyTorch 2.13.0+cpu)"."""
    arch = next((a for a in ("x86_64", "aarch64", "arm64") if a in machine.get("platform", "")), "")
    cores, torch_version = machine.get("cpu_count", "?"), machine.get("torch", "?")
    return f"a {cores}-core {arch + ' ' if arch else ''}CPU (PyTorch {torch_version})"


def expected_time_line(entry: dict, cell, machine: dict) -> str:
    """The line above a long cell: its own measured time where known, the whole notebook's, where
    they were measured, and where the cell shows its progress."""
    own = [
        f"about {minutes(entry[f'{s}_cpu_cells'][cell.id])} in the {s} setting"
        for s in ("full", "fast")
        if cell.id in entry.get(f"{s}_cpu_cells", {})
    ]

    def whole_in(setting: str) -> str:
        seconds = entry.get(f"{setting}_cpu_s")
        return "not measured yet" if seconds is None else minutes(seconds)

    whole = f"the whole notebook {whole_in('full')} in the full setting, {whole_in('fast')} in the fast one"
    progress = (
        "Its progress shows in the dashboard above."
        if "observers=[dashboard]" in cell.source
        else "The cell shows its progress as it runs."
    )
    next_cell = "the next cell " + " and ".join(own) + "; " if own else ""
    return (
        f"{MARKER}, measured on {machine_words(machine)} by `benchmarks/notebook_times.py` "
        f"(a busy machine takes longer): {next_cell}{whole}. {progress}"
    )


def is_time_line(line: str) -> bool:
    return line.startswith(MARKER) or line.startswith("\u23f1")  # (and the stopwatch lines before)


def with_expected_times(notebook, entry: dict, machine: dict) -> list[str]:
    """Put the expected-time line above every long cell of `notebook` (in the markdown cell just
    above it, or a new one) and take it away from above the others; return the ids of the long cells."""
    long_ids, index = [], 0
    while index < len(notebook.cells):
        cell = notebook.cells[index]
        above = notebook.cells[index - 1] if index else None
        if (
            not is_long(cell, entry)
            and above is not None
            and any(map(is_time_line, above.source.split("\n")))
        ):
            above.source = "\n".join(
                line for line in above.source.split("\n") if not is_time_line(line)
            ).rstrip()
            if not above.source:
                del notebook.cells[index - 1]
                continue
        if is_long(cell, entry):
            above = notebook.cells[index - 1] if index else None
            if above is None or above.cell_type != "markdown":
                above = nbformat.v4.new_markdown_cell(MARKER)
                notebook.cells.insert(index, above)
                index += 1
            lines = [line for line in above.source.rstrip().split("\n") if not is_time_line(line)]
            while lines and not lines[-1].strip():
                lines.pop()
            above.source = "\n".join(
                lines + ([""] if lines else []) + [expected_time_line(entry, cell, machine)]
            )
            long_ids.append(cell.id)
        index += 1
    return long_ids


def write_expected_times() -> None:
    results = json.loads(RESULTS.read_text())
    for path in notebook_paths():
        notebook = nbformat.read(path, as_version=4)
        long_ids = with_expected_times(
            notebook, results["notebooks"].get(path.stem, {}), results["machine"]
        )
        nbformat.write(notebook, path)
        print(f"{path.relative_to(ROOT)}: {len(long_ids)} long cell(s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--write-expected-times",
        action="store_true",
        help="write the measured times above the notebooks' long cells, then stop",
    )
    parser.add_argument("--setting", choices=["fast", "full"])
    parser.add_argument("--only", nargs="*", default=None, help="notebook stems (default: all)")
    parser.add_argument("--timeout", type=int, default=6 * 3600, help="per cell, seconds")
    args = parser.parse_args()
    if args.write_expected_times:
        return write_expected_times()
    if args.setting is None:
        parser.error("give --setting fast or --setting full (or --write-expected-times)")
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
        seconds, cells = run_notebook(path, args.timeout)
        print(f"  {seconds:,.0f} s; cells over 1 s: {cells}", flush=True)
        # after each notebook, so nothing is lost
        record(stem, args.setting, device, seconds, cells)
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
