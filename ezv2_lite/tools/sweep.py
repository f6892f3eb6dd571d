"""Many runs at once: presets x tasks x arms x seeds, each an ordinary `train`, as Ray tasks.

    runs = plan(["cartpole", "pendulum"], seeds=[0, 1, 2, 3, 4])
    runs = plan(["cartpole"], seeds=[0, 1, 2], arms=[Arm("default"), Arm("td", ("--optim.value-target", "td"))])
    sweep(runs, "sweeps/course")                       # a local Ray instance on this machine
    sweep(runs, "sweeps/course", address="auto")       # a running Ray cluster (`ray start --head`)

Every run writes its own run directory under the sweep directory, exactly as
`ezv2-lite train --run-dir` would (config.json, metrics.jsonl, checkpoints/).
That is what makes the sweep fault tolerant without new machinery:

- a run whose Ray worker dies is retried by Ray (`max_retries`), and the retry
  resumes from the run's last checkpoint (`train(..., resume=True)`): the
  metrics are cut back to the checkpoint, so no row appears twice;
- running the same sweep again skips finished runs and resumes the others; a
  finished run is one whose last evaluation is at its budget, after its last
  learner step (resuming one would do nothing anyway).

On a cluster the sweep directory must be a path every node reads and writes
(a shared filesystem); `check_shared_directory` writes a file from a Ray task
and reads it back here, and stops with a clear error where that fails.
Ray is optional: `pip install -e '.[cluster]'`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import ConfigError
from .args import duration, plural
from .report import is_finished  # noqa: F401  (what a finished run is; used below and by callers)


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: a preset, an optional task (env.name), a seed and config overrides."""

    preset: str
    seed: int
    task: str | None = None
    overrides: tuple[str, ...] = field(default_factory=tuple)
    """Command-line overrides: the sweep's, then the arm's, e.g. ("--search.num-simulations", "4");
    recorded in sweep.json and each run's config.json."""
    arm: str | None = None
    """The name of the arm (of an ablation) the run belongs to, if the sweep has arms."""

    @property
    def name(self) -> str:
        """The run directory's name: preset-task-arm-seedN (as `ezv2-lite train` names its runs,
        with the arm where there is one)."""
        parts = [
            self.preset,
            self.task.replace("/", "_") if self.task else None,
            self.arm,
            f"seed{self.seed}",
        ]
        return "-".join(part for part in parts if part)

    def args(self) -> list[str]:
        """The `ezv2-lite train` arguments of this run (what `config()` reads)."""
        task = ["--env.name", self.task] if self.task else []
        return ["--preset", self.preset, *task, "--seed", str(self.seed), *self.overrides]

    def config(self):
        from .args import config_from_args

        return config_from_args(self.args(), prog="ezv2-lite sweep")


@dataclass(frozen=True)
class Arm:
    """One arm of an ablation: a name (part of its runs' names), the overrides that make it, and
    the presets it applies to (None: all of the sweep's)."""

    name: str
    overrides: tuple[str, ...] = ()
    presets: tuple[str, ...] | None = None


def _pairs(flags: tuple[str, ...], whose: str) -> tuple[str, ...]:
    if len(flags) % 2:
        raise ConfigError(
            f"{whose} overrides come in pairs, --section.field VALUE (got {list(flags)})"
        )
    return flags


def plan(
    presets: list[str],
    seeds: list[int],
    tasks: list[str] | None = None,
    overrides: list[str] | None = None,
    arms: list[Arm] | None = None,
) -> list[SweepRun]:
    """The grid: every seed, preset, task (none: the preset's own) and arm (none: the sweep is one
    arm), seed first, so that a sweep cut short has every configuration at its first seeds. Each
    configuration is built here, so a bad override fails before anything runs, and two arms that
    give a preset the same configuration are refused (one run per configuration)."""
    if not presets or not seeds:
        raise ConfigError("a sweep needs at least one preset and one seed")
    flags = _pairs(tuple(overrides or ()), "the sweep's")
    for arm in arms or []:
        _pairs(arm.overrides, f"arm {arm.name!r}:")
        if not arm.name or not all(c.isalnum() or c == "_" for c in arm.name):
            raise ConfigError(
                f"arm name {arm.name!r}: use letters, digits and '_' (it names run directories)"
            )
        unknown = set(arm.presets or ()) - set(presets)
        if unknown:
            raise ConfigError(
                f"arm {arm.name!r} names presets the sweep does not run: {sorted(unknown)}"
            )
    runs = [
        SweepRun(p, s, t, flags + (arm.overrides if arm else ()), arm.name if arm else None)
        for s in seeds
        for p in presets
        for t in (tasks or (None,))
        for arm in (arms or (None,))
        if arm is None or arm.presets is None or p in arm.presets
    ]
    names = [run.name for run in runs]
    if len(set(names)) != len(names):
        raise ConfigError(
            "the grid names some runs twice: give each preset, task, arm and seed once"
        )
    configs: dict[tuple, str | None] = {}
    for run in runs:
        config = run.config()  # validates
        same = configs.setdefault((run.preset, run.task, run.seed, repr(config)), run.arm)
        if same != run.arm:
            raise ConfigError(
                f"arms {same!r} and {run.arm!r} give {run.preset} the same configuration: "
                "drop one, or restrict it to the other presets (presets = [...] in its table)"
            )
    return runs


GRID_KEYS = {"presets", "tasks", "seeds", "overrides", "arms"}


def read_grid(path: str | Path) -> dict:
    """A sweep's grid from a TOML file, e.g.

    presets = ["cartpole", "pendulum"]
    seeds = [0, 1, 2, 3, 4]
    overrides = ["--search.num-simulations", "4"]

    [arms]                      # optional: the arms of an ablation (read with `grid_arms`)
    default = []
    td = ["--optim.value-target", "td"]
    [arms.policy_only]          # an arm for some presets only
    presets = ["pendulum"]
    overrides = ["--search.policy-samples", "16", "--search.widened-samples", "0"]
    """
    try:
        import tomllib
    except ImportError:  # (Python 3.10)
        raise ConfigError(
            "grid files are read with tomllib, new in Python 3.11: give --presets, --tasks, "
            "--seeds and the overrides on the command line instead"
        ) from None
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"the grid file {path} does not exist")
    try:
        grid = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    unknown = set(grid) - GRID_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}; a grid has {sorted(GRID_KEYS)}")
    grid_arms(grid, path)  # (checks the arms' form)
    return grid


def grid_arms(grid: dict, path: str | Path = "the grid") -> list[Arm] | None:
    """The arms of a grid read by `read_grid`, in the file's order (None: it has none)."""
    if "arms" not in grid:
        return None
    if not isinstance(grid["arms"], dict):
        raise ConfigError(
            f"{path}: arms is a table, [arms], with one line per arm: NAME = [overrides]"
        )
    arms = []
    for name, value in grid["arms"].items():
        presets = None
        if isinstance(value, dict):
            unknown = set(value) - {"overrides", "presets"}
            if unknown:
                raise ConfigError(
                    f"{path}: arm {name!r} has unknown keys {sorted(unknown)}; "
                    "an arm's table has overrides and presets"
                )
            overrides = value.get("overrides", [])
            if "presets" in value:
                presets = value["presets"]
                if (
                    not isinstance(presets, list)
                    or not presets
                    or not all(isinstance(p, str) for p in presets)
                ):
                    raise ConfigError(
                        f"{path}: arm {name!r}: presets is a non-empty list of names, "
                        'e.g. presets = ["pendulum"]'
                    )
                presets = tuple(presets)
        else:
            overrides = value
        if not isinstance(overrides, list):
            raise ConfigError(
                f"{path}: arm {name!r} must be a list of overrides, e.g. "
                '["--search.num-simulations", "4"]'
            )
        arms.append(Arm(name, tuple(str(flag) for flag in overrides), presets))
    return arms


def train_one(run: SweepRun, run_dir: str) -> dict:
    """One run, started or resumed where its checkpoints are (what a Ray task executes)."""
    from .. import accel  # noqa: F401  (the faster model steps the runtime section may ask for)
    from ..train import train
    from .report import final_return

    directory = Path(run_dir)
    resume = (directory / "checkpoints").exists()
    if not resume and directory.exists():  # stopped before its first checkpoint: nothing was kept
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "worker.pid").write_text(str(os.getpid()))  # (which process to stop, for a drill)
    train(run.config(), directory, resume=resume, progress=False)
    mean, episodes = final_return(directory)
    return {"name": run.name, "final_return": mean, "episodes": episodes, "resumed": resume}


def check_shared_directory(ray, sweep_dir: Path) -> None:
    """Stop with a clear error unless a Ray task can write into `sweep_dir` where this process
    reads it (on a cluster: a filesystem every node shares)."""
    probe = sweep_dir / f".shared-{uuid.uuid4().hex}"

    @ray.remote(num_cpus=0)
    def write(path: str) -> str:
        import socket

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(socket.gethostname())
        return socket.gethostname()

    host = ray.get(write.remote(str(probe)))
    if not probe.exists():
        raise ConfigError(
            f"a Ray worker on {host} wrote {probe}, but it is not here: the sweep directory "
            "must be on a filesystem every node shares (e.g. NFS); give --sweep-dir there"
        )
    probe.unlink()


def progress_line(run: SweepRun, run_dir: Path, total_env_steps: int, state: str) -> str:
    """`name: state, env steps N of M, last evaluation R`."""
    from .report import evaluations, read_metrics

    lines = read_metrics(run_dir) if (run_dir / "metrics.jsonl").exists() else []
    steps = env_steps_done(lines)
    evals = evaluations(lines)
    last = f", last evaluation {evals[-1]['eval_return_mean']:.1f}" if evals else ""
    return f"{run.name}: {state}, env steps {steps:,} of {total_env_steps:,}{last}"


def env_steps_done(lines: list[dict]) -> int:
    """A run's env steps so far, from its metrics lines (0 before its first line)."""
    return lines[-1]["env_steps"] if lines else 0


def progress_report(
    pending: list[SweepRun], finished: list[SweepRun], sweep_dir: Path, totals: dict[str, int]
) -> list[str]:
    """What a sweep prints as it goes: a line for each started run, then one for the sweep: how
    many of its runs are finished (before this sweep or in it), running and waiting, and the time
    left. That time is the finished runs' mean training time (their last `wall_s`) times the runs
    still to do (a running run counts for the share of its budget it has left), over the runs
    running at once; unknown until a run has finished."""
    from .report import read_metrics

    def done_steps(run: SweepRun) -> int:
        return env_steps_done(read_metrics(sweep_dir / run.name))

    running = [run for run in pending if (sweep_dir / run.name / "metrics.jsonl").exists()]
    lines = [
        progress_line(run, sweep_dir / run.name, totals[run.name], "running") for run in running
    ]
    to_do = (
        len(pending) - len(running) + sum(1 - done_steps(run) / totals[run.name] for run in running)
    )
    walls = [read_metrics(sweep_dir / run.name)[-1].get("wall_s", 0.0) for run in finished]
    if walls:
        per_run = sum(walls) / len(walls)
        left = (
            f"about {duration(per_run * to_do / max(1, len(running)))} left ({duration(per_run)} a run, "
            f"{max(1, len(running))} at a time)"
        )
    else:
        left = "time left known once a run has finished"
    lines.append(
        f"sweep: {len(finished)} of {len(finished) + len(pending)} runs finished, {len(running)} running, "
        f"{len(pending) - len(running)} waiting; {left}"
    )
    return lines


def sweep(
    runs: list[SweepRun],
    sweep_dir: str | Path,
    address: str | None = None,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    max_retries: int = 3,
    num_cpus: int | None = None,
    report_every_s: float = 30.0,
    print_fn=print,
) -> list[dict]:
    """Run `runs` as Ray tasks into `sweep_dir`/NAME; finished runs are skipped. With no `address`,
    a local Ray instance with `num_cpus` CPUs (default: all) is started; "auto" or host:port joins
    a cluster. Returns each run's result (name, final return, episodes, resumed)."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "ezv2-lite sweep runs on Ray, which is not installed: "
            "pip install -e '.[cluster]' (or pip install 'ray[default]')"
        ) from None
    sweep_dir = Path(sweep_dir).resolve()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / "sweep.json").write_text(
        json.dumps({"runs": [asdict(r) | {"name": r.name} for r in runs]}, indent=2) + "\n"
    )

    totals = {run.name: run.config().train.total_env_steps for run in runs}
    todo = [run for run in runs if not is_finished(sweep_dir / run.name)]
    for run in runs:
        if run not in todo:
            print_fn(progress_line(run, sweep_dir / run.name, totals[run.name], "finished before"))
    if not todo:
        print_fn(f"all {plural(len(runs), 'run')} of {sweep_dir} finished before: nothing to do")
        return [{"name": r.name, "skipped": True} for r in runs]

    started_here = not ray.is_initialized()
    if started_here:
        if address is None:  # a private local instance: Ray's note that it made it a token is
            # not for the reader (in a notebook it would sit in a red stderr box like an error)
            logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(
                logging.ERROR
            )
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        check_shared_directory(ray, sweep_dir)
        task = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=max_retries)(
            train_one
        )
        pending = {task.remote(run, str(sweep_dir / run.name)): run for run in todo}
        results, last_report = [], 0.0
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=5.0)
            for ref in done:
                run = pending.pop(ref)
                results.append(ray.get(ref))
                print_fn(progress_line(run, sweep_dir / run.name, totals[run.name], "finished"))
            if pending and time.monotonic() - last_report > report_every_s:
                last_report = time.monotonic()
                for line in progress_report(
                    list(pending.values()),
                    [r for r in runs if r not in pending.values()],
                    sweep_dir,
                    totals,
                ):
                    print_fn(line)
        print_fn(
            f"sweep {sweep_dir}: {plural(len(results), 'run')} finished now, "
            f"{plural(len(runs) - len(todo), 'run')} before"
        )
        return results
    finally:
        if started_here:
            ray.shutdown()
