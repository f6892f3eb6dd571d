"""The report of a sweep (ezv2_lite/tools/sweep.py): scores per task and over tasks, with intervals.

    ezv2-lite report SWEEP_DIR          # table, SWEEP_DIR/report.json and SWEEP_DIR/report.png

Two protocols, named in every table: the *final* evaluation of each run (ours: the
agent at the end of its budget) and the *best* evaluation over the run (what the
EZ-V2 authors report). Per task the scores are raw returns; over tasks they are
normalised so that tasks can be pooled: human-normalised for Atari (paper §6.1),
(return - lowest) / (highest - lowest) where the environment bounds its returns
(DeepMind Control, the classic-control tasks: ezv2_lite.tools.report.return_bounds).

Point estimates and 95% intervals come from `rliable` (Agarwal et al., "Deep RL
at the edge of the statistical precipice", NeurIPS 2021): the interquartile mean
(the mean of the middle 50% of runs, robust to outliers yet using half the runs),
the mean, the median, and over normalised scores the optimality gap (how far
below 1 the runs fall on average); the intervals are stratified bootstrap
intervals (runs resampled within each task). Learning curves show the mean over
runs at each evaluation with its bootstrap interval, and the published returns of
other methods on the same task where the package has them (data/baselines.csv:
DreamerV3's released DMC and Atari 100k scores; each source counts steps its own
way, so every point is labelled with its unit).
"""

from __future__ import annotations

import csv
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import EnvConfig, from_json
from ..evaluate import human_normalized, interquartile_mean
from .report import evaluations, is_finished, read_metrics, return_bounds

BOOTSTRAP_REPS = 2000
BASELINES = Path(__file__).parents[1] / "data" / "baselines.csv"  # (the package's data)


def published_baselines(env) -> list[dict]:
    """The rows of data/baselines.csv for this environment's task: method, x, x_unit, mean, seeds."""
    suite = {
        "atari": "atari100k",
        "dmc": "dmc_vision" if env.pixels else "dmc_proprio",
        "minatar": "minatar",
    }.get(env.suite)
    with BASELINES.open() as file:
        return [
            row
            for row in csv.DictReader(file)
            if row["suite"] == suite and row["task"].lower() == env.name.lower()
        ]


def expected_returns_table(env, steps: int, references: dict[str, float] | None = None) -> str:
    """What return to expect on this task after `steps` env steps, as aligned text: `references`
    (such as a random policy's return) and each published method's mean return at the last point
    of its curve not beyond `steps` (data/baselines.csv), or, where its curve starts later, its
    first point, marked as beyond the budget; a method with a final score only gives that. Each
    source counts steps its own way: the line under a method names its unit. A flat curve reads
    differently beside these."""
    by_method: dict[str, list[dict]] = {}
    for row in published_baselines(env):
        by_method.setdefault(row["method"], []).append(row)
    rows_out: list[tuple[str, str, tuple[str, str] | None]] = [
        (name, f"{value:.1f}", None) for name, value in (references or {}).items()
    ]
    for method, rows in by_method.items():
        counted = sorted((row for row in rows if row["x"].isdigit()), key=lambda row: int(row["x"]))
        within = [row for row in counted if int(row["x"]) <= steps]
        row = within[-1] if within else counted[0] if counted else rows[-1]
        where = (
            (f"at {int(row['x']):,}" + ("" if within else ", beyond this budget"))
            if counted
            else row["x"]
        )
        rows_out.append(
            (
                f"{method} (published)",
                f"{float(row['mean']):.1f}",
                (where, f"({row['x_unit']}; {row['seeds']} seeds)"),
            )
        )
    if not rows_out:
        return f"no reference returns for {env.name}"
    width = max(len(name) for name, _, _ in rows_out)
    lines = [f"expected return on {env.name} after {steps:,} env steps"]
    for name, value, source in rows_out:
        lines.append(f"  {name:<{width}}  {value:>7}" + (f"  {source[0]}" if source else ""))
        if source:
            lines.append(" " * (width + 13) + source[1])
    return "\n".join(lines)


@dataclass
class TaskRuns:
    """The runs of one task (preset and environment) and arm of a sweep."""

    task: str
    """preset · environment"""
    run_dirs: list[Path]
    env: EnvConfig
    """The runs' EnvConfig."""
    arm: str | None = None

    @property
    def key(self) -> str:
        """preset · environment, then · arm where the sweep has arms."""
        return self.task if self.arm is None else f"{self.task} · {self.arm}"

    def scores(self, protocol: str) -> np.ndarray:
        """[runs] the final ("final") or the best ("best") evaluation return of each run."""
        pick = (
            (lambda evals: evals[-1])
            if protocol == "final"
            else (lambda evals: max(evals, key=lambda e: e["eval_return_mean"]))
        )
        return np.array(
            [pick(evaluations(read_metrics(d)))["eval_return_mean"] for d in self.run_dirs]
        )

    def normalized(self, scores: np.ndarray) -> np.ndarray | None:
        """Scores on a common scale (1 = human or the highest return), or None where none is known."""
        if self.env.suite == "atari":
            return np.array([human_normalized(self.env.name, s) for s in scores])
        bounds = return_bounds(self.env)
        return None if bounds is None else (scores - bounds[0]) / (bounds[1] - bounds[0])


def sweep_tasks(sweep_dir: str | Path) -> list[TaskRuns]:
    """The sweep's finished-or-not runs with at least one evaluation, grouped by task."""
    sweep_dir = Path(sweep_dir)
    plan = sweep_dir / "sweep.json"
    if not plan.exists():
        raise ValueError(f"{plan} does not exist: give the directory of an `ezv2-lite sweep`")
    tasks: dict[tuple, TaskRuns] = {}
    for run in json.loads(plan.read_text())["runs"]:
        run_dir = sweep_dir / run["name"]
        if not (run_dir / "metrics.jsonl").exists() or not evaluations(read_metrics(run_dir)):
            continue
        config = from_json((run_dir / "config.json").read_text())
        task, arm = f"{config.preset} · {config.env.name}", run.get("arm")
        tasks.setdefault(
            (task, arm), TaskRuns(task, [], config.env.resolved(), arm)
        ).run_dirs.append(run_dir)
    if not tasks:
        raise ValueError(f"no run of {sweep_dir} has an evaluation yet: let the sweep run longer")
    return list(tasks.values())


@contextmanager
def seeded_numpy(seed: int):
    """numpy's global generator seeded for a block, and given back its state after it."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def interval_estimates(
    score_matrix: np.ndarray, with_gap: bool, seed: int = 0, reps: int = BOOTSTRAP_REPS
) -> dict:
    """[runs, tasks] -> {metric: (point, low, high)}: the statistics over all runs of all tasks,
    their intervals by rliable's stratified bootstrap with `reps` resamples. The median is rliable's over several tasks
    (the median of the tasks' mean scores) and the median of the runs for one task."""
    from rliable import library as rly
    from rliable import metrics

    names = ["IQM", "mean", "median"] + (["optimality gap"] if with_gap else [])

    def aggregate(scores):
        median = metrics.aggregate_median(scores) if scores.shape[1] > 1 else np.median(scores)
        values = [
            interquartile_mean(scores.ravel()),  # (evaluate.py's: rliable's, trim_mean 0.25)
            metrics.aggregate_mean(scores),
            median,
        ]
        return np.array(
            values + ([metrics.aggregate_optimality_gap(scores, 1.0)] if with_gap else [])
        )

    with seeded_numpy(seed):  # (rliable draws from numpy's global generator)
        points, intervals = rly.get_interval_estimates({"runs": score_matrix}, aggregate, reps=reps)
    return {
        name: (
            float(points["runs"][i]),
            float(intervals["runs"][0, i]),
            float(intervals["runs"][1, i]),
        )
        for i, name in enumerate(names)
    }


def sweep_report(sweep_dir: str | Path) -> dict:
    """Per task (and arm) and protocol the runs' scores and their interval estimates; over tasks
    the same on normalised scores, where every task has a scale and as many runs, for each arm
    on its own ("final", or "final · ARM" in a sweep with arms). Also written to report.json."""
    tasks = sweep_tasks(sweep_dir)
    runs = [d for task in tasks for d in task.run_dirs]
    report = {
        "runs": len(runs),
        "compute_s": round(sum(read_metrics(d)[-1].get("wall_s", 0.0) for d in runs), 1),
        "protocols": {
            "final": "the last evaluation of each run",
            "best": "the best evaluation over each run (the EZ-V2 authors' protocol)",
        },
        "bootstrap": f"stratified bootstrap, {BOOTSTRAP_REPS} resamples, 95% intervals",
        "tasks": {},
        "over_tasks": {},
    }
    for protocol in ("final", "best"):
        for arm in dict.fromkeys(task.arm for task in tasks):
            pooled: list[np.ndarray | None] = []
            arm_tasks = [task for task in tasks if task.arm == arm]
            for task in arm_tasks:
                scores = task.scores(protocol)
                entry = report["tasks"].setdefault(
                    task.key,
                    {
                        "runs": [d.name for d in task.run_dirs],
                        "finished": sum(map(is_finished, task.run_dirs)),
                        "published": published_baselines(task.env),
                    },
                )
                entry[protocol] = {
                    "scores": scores.tolist(),
                    "estimates": interval_estimates(scores[:, None], with_gap=False),
                }
                pooled.append(task.normalized(scores))
            scaled = [p for p in pooled if p is not None]
            if (
                (arm is None or len(pooled) > 1)
                and len(scaled) == len(pooled)  # every task has a scale
                and len({len(p) for p in scaled}) == 1
            ):
                matrix = np.stack(scaled, axis=1)
                key = protocol if arm is None else f"{protocol} · {arm}"
                report["over_tasks"][key] = {
                    "tasks": [t.key for t in arm_tasks],
                    "normalised": matrix.tolist(),
                    "estimates": interval_estimates(matrix, with_gap=True),
                }
    (Path(sweep_dir) / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def report_table(report: dict) -> str:
    """The report as text that fits a notebook's width: per task a block with one row per
    protocol and a column per estimate (point [95% interval]), then the pooled normalised scores."""

    def block(title: str, rows: dict[str, dict], digits: int) -> list[str]:
        names = list(next(iter(rows.values())).keys())
        cell = lambda p, lo, hi: f"{p:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"  # noqa: E731
        width = max(len(name) for name in names)
        width = max(
            [width] + [len(cell(*v)) for estimates in rows.values() for v in estimates.values()]
        )
        lines = [title, f"  {'':<8}" + "".join(f"  {name:<{width}}" for name in names)]
        for protocol, estimates in rows.items():
            lines.append(
                f"  {protocol:<8}"
                + "".join(f"  {cell(*estimates[name]):<{width}}" for name in names)
            )
        return [line.rstrip() for line in lines]

    lines = [
        f"{report['runs']} runs, {report['compute_s'] / 3600:.2f} h of training in all",
        f"intervals: {report['bootstrap']}",
    ]
    for key, entry in report["tasks"].items():
        runs = len(entry["runs"])
        count = f"{runs} run{'' if runs == 1 else 's'}"
        count += f", {entry['finished']} finished" if entry["finished"] < runs else ""
        lines += block(f"{key} ({count})", {p: entry[p]["estimates"] for p in ("final", "best")}, 1)
    if report["over_tasks"]:
        tasks = len(next(iter(report["over_tasks"].values()))["tasks"])
        lines += block(
            f"normalised over {tasks} tasks",
            {p: entry["estimates"] for p, entry in report["over_tasks"].items()},
            3,
        )
    return "\n".join(lines)


def curves_figure(
    sweep_dir: str | Path, arms: list[str] | None = None, path: str | Path | None = None
) -> Path:
    """SWEEP_DIR/report.png (or `path`): per task the mean evaluation return over runs against env
    steps, with its 95% bootstrap interval, and each run faintly; in a sweep with arms, one line
    and band per arm (those in `arms`, default all) in the task's panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    everything = sweep_tasks(sweep_dir)
    panels: dict[str, list[TaskRuns]] = {}
    for task in everything:
        if arms is None or task.arm in arms:
            panels.setdefault(task.task, []).append(task)
    if not panels:
        raise ValueError(f"no run of {sweep_dir} belongs to the arms {arms}")
    # (an arm keeps its colour in every panel)
    names = list(dict.fromkeys(task.arm for task in everything))
    colours = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (title, groups) in zip(axes[0], panels.items(), strict=True):
        last = 0
        for task in groups:
            curves = [
                {e["env_steps"]: e["eval_return_mean"] for e in evaluations(read_metrics(d))}
                for d in task.run_dirs
            ]
            last = max([last] + [max(curve) for curve in curves])
            steps = sorted(set.intersection(*(set(c) for c in curves)))
            colour = "#1a73e8" if task.arm is None else colours(names.index(task.arm))
            if len(groups) == 1:
                for curve in curves:
                    ax.plot(list(curve), list(curve.values()), color="gray", alpha=0.3, lw=0.8)
            if steps:
                estimates = [
                    interval_estimates(np.array([c[s] for c in curves])[:, None], False)["mean"]
                    for s in steps
                ]
                mean, low, high = map(np.array, zip(*estimates, strict=True))
                label = (
                    f"mean of {len(curves)} runs"
                    if task.arm is None
                    else f"{task.arm} ({len(curves)} runs)"
                )
                ax.plot(steps, mean, color=colour, label=label)
                ax.fill_between(
                    steps,
                    low,
                    high,
                    color=colour,
                    alpha=0.15 if task.arm else 0.2,
                    label="95% interval" if len(groups) == 1 else None,
                )
        published: dict[tuple, list] = {}
        for row in published_baselines(groups[0].env):
            published.setdefault((row["method"], row["x_unit"]), []).append(row)
        for (method, unit), rows in published.items():
            if all(row["x"].isdigit() for row in rows):  # (within the runs' budget)
                rows = [row for row in rows if int(row["x"]) <= last]
                if rows:
                    ax.plot(
                        [int(r["x"]) for r in rows],
                        [float(r["mean"]) for r in rows],
                        "--",
                        marker=".",
                        lw=1,
                        label=f"{method} (published; x: {unit})",
                    )
            else:  # a final score only
                ax.axhline(
                    float(rows[-1]["mean"]),
                    ls="--",
                    lw=1,
                    label=f"{method} (published, {rows[-1]['x']})",
                )
        ax.set(title=title, xlabel="env steps", ylabel="evaluation return")
        ax.legend(loc="best", fontsize=7 if len(groups) > 4 else 8)
    fig.tight_layout()
    path = Path(path) if path is not None else Path(sweep_dir) / "report.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
