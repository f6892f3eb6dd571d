"""The `ezv2-lite` command line.

    ezv2-lite check-env [--preset NAME] [--env.suite S --env.name N ...] [--steps N]

Each command parses its own options with tyro from the same dataclasses the
Python API uses, so every config field can be overridden by its dotted name
(`--env.name walker-walk`, `--env.pixels`, `--seed 3`). Bad input ends with a
one-line `error:` message and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import tyro

from ..config import Config, ConfigError, EnvConfig, override, validate
from ..presets import PRESETS
from .args import (
    DEFAULT_PRESET,
    config_from_args,
    number,
    plural,
    positive_int,
    split_preset,
    take_option,
)

USAGE = """usage: ezv2-lite COMMAND [OPTIONS]

commands:
  train       train an agent: --preset NAME [overrides] [--total-env-steps N] [--seed S]
              [--run-dir DIR], or continue one: --resume RUN_DIR
  eval        evaluate a run's latest checkpoint or a shipped agent: RUN_DIR or AGENT
              [--episodes N] [--video OUT.mp4|OUT.gif] (AGENT: a name from `ezv2-lite agents`,
              e.g. cartpole, or an agent folder; by default its card's seed and episodes)
  export      make a shipped agent from a run: RUN_DIR agents/NAME --command "..."
  agents      the shipped agents: name, environment, the command that trained it, evaluation, size
  report      learning curve (RUN_DIR/report.png) and a summary table: RUN_DIR [RUN_DIR ...];
              Atari runs also get raw and human-normalised scores (mean, median, IQM);
              a sweep's directory: IQM, mean, median with bootstrap intervals, per task and pooled
  check-env   build an environment, print its spec, run a random policy, print steps/s
  sweep       presets x tasks x seeds as Ray tasks, each a resumable train: --sweep-dir DIR
              [--presets ...] [--tasks ...] [--seeds ...] [--address auto] [-- overrides]
  bench       benchmarks: `ezv2-lite bench search|learner|acting|e2e|learn|train-rate` (JSON under benchmarks/results/)

Run `ezv2-lite COMMAND --help` for a command's options."""

HELP = {  # the commands that read their arguments themselves (the others' --help comes from tyro)
    "eval": """usage: ezv2-lite eval RUN_DIR_OR_AGENT [--episodes N] [--seed S] [--video OUT.mp4|OUT.gif]

Evaluate a run's newest checkpoint, or a shipped agent (a name from `ezv2-lite agents`, e.g.
cartpole, or a folder made by `ezv2-lite export`), with the evaluation protocol's search.
  --episodes N   how many episodes (default: the run's eval_episodes, or the card's; 1 with --video)
  --seed S       the first episode's seed, then S + 1, ... (default: the card's evaluation seed, or
                 for a run its seed + 123,457): try a shipped agent on seeds it was never shown
  --video OUT    also write the episodes as a captioned video (.mp4 or .gif)""",
    "agents": "usage: ezv2-lite agents\n\nThe shipped agents as a table: name, environment, the command that "
    "trained it, env steps, evaluation, size.",
    "report": """usage: ezv2-lite report RUN_DIR [RUN_DIR ...] | SWEEP_DIR

A run's learning curve (RUN_DIR/report.png) and a summary table; Atari runs also get raw and
human-normalised scores. A sweep's directory: IQM, mean and median with bootstrap intervals, per task
and pooled, and an ablation's verdicts.""",
}  # (`bench --help` is answered by `bench`, which knows the benchmarks' kinds)


TRAIN_HELP = """Train an agent: ezv2-lite train [--preset NAME] [SHORTCUTS] [--section.field VALUE ...]

Shortcuts:
  --run-dir DIR          where the run is written (default: runs/PRESET-TASK-seedN)
  --resume RUN_DIR       continue a stopped run with its own config.json (only
                         --total-env-steps N, --no-progress and --tensorboard[-videos] may be given with it)
  --total-env-steps N    the run's budget in environment frames (= --train.total-env-steps)
  --no-progress          no progress bars
  --tensorboard          also write the metrics as TensorBoard events in RUN_DIR/tensorboard
                         (`tensorboard --logdir runs`; metrics.jsonl stays the record)
  --tensorboard-videos   the same, and an evaluation episode as a video after each evaluation

--preset NAME first ({presets}; default {default}): every option below then shows that
preset's value."""


# ------------------------------------------------------------------- check-env


@dataclass(frozen=True)
class CheckEnvArgs:
    """Build an environment from the config, print its spec, run a random policy."""

    env: EnvConfig = field(default_factory=EnvConfig)
    steps: int = 1000
    """Agent steps of the random policy."""
    seed: int = 0
    mode: Literal["train", "eval"] = "train"


def check_env(args: list[str]) -> None:
    base, rest = split_preset(args)
    opts = tyro.cli(
        CheckEnvArgs,
        default=CheckEnvArgs(env=base.env, seed=base.seed),
        args=rest,
        prog="ezv2-lite check-env",
    )
    if opts.steps <= 0:
        raise ConfigError(f"--steps must be a positive integer (got {opts.steps})")
    validate(Config(env=opts.env))
    from ..envs import env_spec, make_env

    cfg = opts.env.resolved()
    started = time.perf_counter()
    env = make_env(cfg, opts.mode, seed=opts.seed)
    obs, _ = env.reset()
    built = time.perf_counter() - started
    spec = env_spec(env, cfg)
    print(f"{cfg.suite}:{cfg.name} ({opts.mode} mode), built in {built:.2f} s")
    print(f"  {spec.describe()}")
    print(
        f"  first observation: dtype {obs.dtype}, shape {obs.shape}, "
        f"range [{number(obs.min(), '.3g')}, {number(obs.max(), '.3g')}]"
    )

    returns, episode_return, episodes = [], 0.0, 0
    started = time.perf_counter()
    for _ in range(opts.steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        episode_return += float(reward)
        if terminated or truncated:
            returns.append(episode_return)
            episode_return, episodes = 0.0, episodes + 1
            obs, _ = env.reset()
    elapsed = time.perf_counter() - started
    env.close()
    rate = opts.steps / elapsed
    print(
        f"  random policy: {plural(opts.steps, 'agent step')} in {elapsed:.2f} s = {rate:,.0f} agent "
        f"steps/s ({rate * spec.action_repeat:,.0f} env frames/s)"
    )
    if returns:
        print(
            f"  {plural(len(returns), 'finished episode')}, return mean {number(np.mean(returns))} "
            f"(min {number(np.min(returns))}, max {number(np.max(returns))})"
        )
    else:
        print(
            f"  no episode finished in {plural(opts.steps, 'step')} (current return {number(episode_return)})"
        )


# ----------------------------------------------------------------------- train


def train_command(args: list[str]) -> None:
    from pathlib import Path

    from .. import accel  # noqa: F401  (registers the faster model steps: runtime.fused_inference, runtime.compile_step)
    from ..train import train

    resume, args = take_option(args, "--resume")
    run_dir, args = take_option(args, "--run-dir")
    steps, args = take_option(args, "--total-env-steps")
    progress = "--no-progress" not in args
    videos = "--tensorboard-videos" in args
    tensorboard = videos or "--tensorboard" in args
    args = [a for a in args if a not in ("--no-progress", "--tensorboard", "--tensorboard-videos")]
    if resume is not None:
        if args or run_dir is not None:
            raise ConfigError(
                "--resume continues a run with its own config.json; give only "
                "--resume RUN_DIR (and optionally --total-env-steps N, --tensorboard[-videos])"
            )
        directory = Path(resume)
        if steps is not None:
            from ..train import _extend_budget_if_needed

            _extend_budget_if_needed(directory, positive_int(steps, "--total-env-steps"))
        config, resume_run = Config(), True
    else:
        config = config_from_args(
            args,
            prog="ezv2-lite train",
            description=TRAIN_HELP.format(presets=", ".join(PRESETS), default=DEFAULT_PRESET),
            shortcuts=(
                "--run-dir",
                "--resume",
                "--total-env-steps",
                "--no-progress",
                "--tensorboard",
                "--tensorboard-videos",
            ),
        )
        if steps is not None:
            config = override(
                config, train=dict(total_env_steps=positive_int(steps, "--total-env-steps"))
            )
        validate(config)
        name = config.env.name.replace("/", "_")
        directory = (
            Path(run_dir) if run_dir else Path("runs") / f"{config.preset}-{name}-seed{config.seed}"
        )
        print(
            f"training {config.preset} on {config.env.suite}:{config.env.name} "
            f"for {config.train.total_env_steps:,} env steps into {directory}"
        )
        resume_run = False
    observers = []
    if tensorboard:  # (a mirror of metrics.jsonl in RUN_DIR/tensorboard)
        from .tensorboard import TensorBoardLog

        observers.append(TensorBoardLog(directory, videos=videos))
    try:
        train(config, directory, resume=resume_run, observers=observers, progress=progress)
    finally:
        for observer in observers:
            observer.close()
    from .report import summary, write_learning_curve

    print(summary(directory))
    print(f"learning curve: {write_learning_curve(directory)}")
    from .bench import peak_memory_gb

    print(f"peak memory of this process: {peak_memory_gb():.2f} GB resident")


def eval_command(args: list[str]) -> None:
    from pathlib import Path

    import torch

    from .. import accel  # noqa: F401  (registers the faster model steps: runtime.fused_inference, runtime.compile_step)
    from ..evaluate import evaluate

    episodes, args = take_option(args, "--episodes")
    video, args = take_option(args, "--video")
    chosen_seed, args = take_option(args, "--seed")
    if len(args) != 1:
        raise ConfigError(HELP["eval"].splitlines()[0])
    source = args[0]
    if (Path(source) / "config.json").is_file() and not (Path(source) / "card.json").is_file():
        from .agents import run_model

        config, model, _ = run_model(Path(source))  # a run directory: its newest checkpoint
        seed, default_count = config.seed + 123_457, config.train.eval_episodes
    else:
        from .agents import load_agent

        try:
            agent = load_agent(source)
        except ConfigError as error:
            raise ConfigError(
                f"{source} is not a run directory (config.json and checkpoints); {error}"
            ) from None
        config, model = agent.config, agent.model
        # the card's evaluation seed and episode count
        seed, default_count = (
            agent.card["evaluation"]["seed"],
            agent.card["evaluation"]["episodes"],
        )
    count = positive_int(episodes, "--episodes") if episodes else 1 if video else default_count
    if chosen_seed is not None:  # episodes seeded S, S + 1, ...: a check on seeds of one's own
        seed = positive_int(chosen_seed, "--seed", minimum=0)
    torch.set_num_threads(1)
    cap = config.env.resolved().eval_max_episode_steps
    if video:
        from .video import check_video_path, playback_fps, record, write_video

        check_video_path(video)
        returns, frames = record(model, config, count, seed=seed, progress=True)
        fps = playback_fps(config)
        print(
            f"video: {write_video(video, frames, fps)} ({len(frames):,} frames at {fps:g} per second)"
        )
    else:
        returns = evaluate(model, config, count, seed=seed, progress=True)
    print(
        f"{source}: {plural(count, 'evaluation episode')} from seed {seed:,}, return "
        f"{number(returns.mean())} ± {number(returns.std())} (min {number(returns.min())}, "
        f"max {number(returns.max())})"
        + (f"; episodes capped at {cap:,} agent steps" if cap else "")
    )


@dataclass(frozen=True)
class ExportArgs:
    """Make a shipped agent (ezv2_lite/tools/agents.py) from a run's newest checkpoint: its weights
    (safetensors; float16 where the evaluation return is unchanged), config.json, metrics.jsonl
    and a model card with a 10-episode evaluation and a check episode on a fixed seed."""

    run_dir: tyro.conf.Positional[str]
    out: tyro.conf.Positional[str]
    """The agent's folder, e.g. agents/cartpole."""
    command: str
    """The command that trained the run, for the card (so anyone can train it again)."""
    trained_with: str | None = None
    """The commit of the code that trained it, for the card."""


def agents_command(args: list[str]) -> None:
    from .agents import agents_table

    if args:
        raise ConfigError(f"{HELP['agents'].splitlines()[0]} (it takes no options)")
    print(agents_table())


def export_command(args: list[str]) -> None:
    import torch

    from .agents import export_agent

    opts = tyro.cli(ExportArgs, args=args, prog="ezv2-lite export")
    torch.set_num_threads(1)
    card = export_agent(opts.run_dir, opts.out, opts.command, opts.trained_with)
    e = card["evaluation"]
    print(
        f"{opts.out}: {card['environment']}, {card['env_steps']:,} env steps; evaluation "
        f"{number(e['mean'])} ± {number(e['std'])} over {e['episodes']} episodes with "
        f"{card['weights']} weights; check episode {card['check']['return']} ± "
        f"{card['check']['tolerance']}; weights {card['size_bytes'] / 1e6:.2f} MB"
    )


def report_command(args: list[str]) -> None:
    from pathlib import Path

    from .report import atari_table, is_atari_run, summary, write_learning_curve

    if not args:
        raise ConfigError(HELP["report"].splitlines()[0])
    if len(args) == 1 and (Path(args[0]) / "sweep.json").exists():  # a sweep: scores with intervals
        from .sweep_report import curves_figure, report_table, sweep_report

        print(report_table(sweep_report(args[0])))
        print(
            f"learning curves: {curves_figure(args[0])}; the numbers: {Path(args[0]) / 'report.json'}"
        )
        if any(
            run.get("arm") for run in json.loads((Path(args[0]) / "sweep.json").read_text())["runs"]
        ):
            # an ablation: the questions its arms answer
            from .ablations import (
                answer,
                answers_table,
            )

            rows = answer(args[0])
            (Path(args[0]) / "answers.json").write_text(json.dumps(rows, indent=2) + "\n")
            print(answers_table(rows))
            if rows:
                print(f"the verdicts: {Path(args[0]) / 'answers.json'}")
        return
    for run in args:
        print(f"== {run}")
        print(summary(run))
        print(f"learning curve: {write_learning_curve(run)}")
    atari = [run for run in args if is_atari_run(run)]
    if atari:
        print(atari_table(atari))


# ----------------------------------------------------------------------- bench


def bench(args: list[str]) -> None:
    """`ezv2-lite bench KIND ...`: one of the benchmarks of `tools/bench.py`."""
    from . import bench as benchmarks

    kinds: dict[str, tuple[type, Callable[[Any], Any]]] = {
        "search": (benchmarks.SearchBenchArgs, benchmarks.bench_search),
        "learner": (benchmarks.LearnerBenchArgs, benchmarks.bench_learner),
        "acting": (benchmarks.ActingBenchArgs, benchmarks.bench_acting),
        "e2e": (benchmarks.EndToEndBenchArgs, benchmarks.bench_end_to_end),
        "learn": (benchmarks.LearnBenchArgs, benchmarks.bench_learn),
        "train-rate": (benchmarks.TrainRateArgs, benchmarks.bench_train_rate),
    }
    usage = f"usage: ezv2-lite bench {{{'|'.join(kinds)}}} [options]"
    if args[:1] in (["-h"], ["--help"]):
        print(
            f"{usage}\n\nThe benchmarks (ezv2_lite/tools/bench.py), each writing JSON under "
            "benchmarks/results/;\n`ezv2-lite bench KIND --help` lists a benchmark's options."
        )
        return
    if not args or args[0] not in kinds:
        raise ValueError(usage)
    cls, run = kinds[args[0]]
    run(tyro.cli(cls, args=args[1:], prog=f"ezv2-lite bench {args[0]}"))


# ----------------------------------------------------------------------- sweep


@dataclass(frozen=True)
class SweepArgs:
    """Run presets x tasks x seeds, each an ordinary `train`, as Ray tasks (ezv2_lite/tools/sweep.py).

    Overrides for every run follow a `--`: ezv2-lite sweep --sweep-dir sweeps/sims --seeds 0 1 2
    -- --search.num-simulations 4. Running the same command again skips finished runs and resumes
    the others from their checkpoints."""

    sweep_dir: str
    """Where the runs go (one run directory each); on a cluster, a path every node shares."""
    grid: str | None = None
    """A TOML file with presets, tasks, seeds and overrides (a list of flags and values), read
    instead of the options of the same names, and optionally the arms of an ablation (each a name
    and its overrides; ezv2_lite/tools/sweep.py, `read_grid`)."""
    presets: tuple[str, ...] = ("cartpole",)
    tasks: tuple[str, ...] = ()
    """env.name of each task (none: each preset's own task)."""
    seeds: tuple[int, ...] = (0,)
    total_env_steps: int | None = None
    """Every run's budget (default: each preset's)."""
    address: str | None = None
    """A Ray cluster to join ("auto", or host:port); none: start Ray on this machine."""
    num_cpus: int | None = None
    """CPUs of the local Ray instance (default: all of this machine's)."""
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    """A fraction shares one GPU between runs (0.25: four runs on a GPU)."""
    max_retries: int = 3
    """How often Ray retries a run whose worker died (each retry resumes from its checkpoint)."""


def sweep_command(args: list[str]) -> None:
    from .sweep import grid_arms, plan, sweep

    overrides = args[args.index("--") + 1 :] if "--" in args else []
    args = args[: args.index("--")] if "--" in args else args
    opts = tyro.cli(SweepArgs, args=args, prog="ezv2-lite sweep")
    arms = None
    if opts.grid is not None:
        from .sweep import read_grid

        grid_path = opts.grid
        grid = read_grid(grid_path)
        opts = replace(
            opts,
            presets=tuple(grid.get("presets", opts.presets)),
            tasks=tuple(grid.get("tasks", opts.tasks)),
            seeds=tuple(grid.get("seeds", opts.seeds)),
        )
        overrides = [str(x) for x in grid.get("overrides", [])] + overrides
        arms = grid_arms(grid, grid_path)
    if opts.total_env_steps is not None:
        overrides += [
            "--train.total-env-steps",
            str(positive_int(str(opts.total_env_steps), "--total-env-steps")),
        ]
    runs = plan(list(opts.presets), list(opts.seeds), list(opts.tasks), overrides, arms)
    print(
        f"sweep of {plural(len(runs), 'run')} into {opts.sweep_dir}: "
        + ", ".join(run.name for run in runs)
    )
    sweep(
        runs,
        opts.sweep_dir,
        address=opts.address,
        cpus_per_run=opts.cpus_per_run,
        gpus_per_run=opts.gpus_per_run,
        max_retries=opts.max_retries,
        num_cpus=opts.num_cpus,
    )


COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "train": train_command,
    "eval": eval_command,
    "export": export_command,
    "agents": agents_command,
    "report": report_command,
    "check-env": check_env,
    "bench": bench,
    "sweep": sweep_command,
}


def main(argv: list[str] | None = None) -> None:
    try:
        run_command(sys.argv[1:] if argv is None else list(argv))
    # the reader went away (`ezv2-lite --help | head`): stop without a traceback
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None


def run_command(args: list[str]) -> None:
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return
    command, rest = args[0], args[1:]
    if command in HELP and ("-h" in rest or "--help" in rest):  # (anywhere: `eval cartpole --help`)
        print(HELP[command])
        return
    if command not in COMMANDS:
        print(
            f"ezv2-lite: error: unknown command {command!r}; choose one of: {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        raise SystemExit(2)
    try:
        COMMANDS[command](rest)
    except BrokenPipeError:
        raise
    except (ConfigError, ValueError, OSError) as error:
        print(f"ezv2-lite {command}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
