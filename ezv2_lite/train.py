"""The training loop: act -> store -> sample -> reanalyze -> update -> evaluate -> checkpoint.

    run_dir = train(config, "runs/cartpole")          # or resume=True to continue a run

One process, deterministic given the seed. Learning starts once the replay
holds `start_transitions` sampleable transitions; from then on the learner
keeps `train_ratio` learner steps per collected agent step (a count, not a
clock, so the result does not depend on the machine's speed). The acting model
is refreshed every `selfplay_update_interval` learner steps; the lagged target
model used for reanalysis every `target_update_interval` (docs/algorithm.md §6). After
collection, `offline_train_steps` more learner steps run on the stored data
(none if the budget ended before learning started).

Observers (e.g. viz.dashboard) receive `TrainEvent`s: metrics lines,
evaluations, a recent search trace (actions named as the environment names
them) and a recent frame (the first environment's observation, and `render()`,
which draws it as a person sees it, called only by observers that show it).
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from . import replay_file
from .actor import Actor, store_pending_steps
from .checkpoint import (
    CheckpointError,
    RunState,
    complete_checkpoints,
    find_checkpoint,
    random_states,
    restore_random_states,
)
from .config import Config, from_json, to_json, validate
from .envs import probe_spec
from .evaluate import EvaluationStopped, RootDiagnostics, evaluate
from .learner import Learner, LossSummary, StepLosses, learner_step
from .model import build_model, resolve_device, set_numerics
from .progress import finish, progress_bar
from .replay import Replay, frames_device
from .targets import Reanalyzer, TargetSource

if TYPE_CHECKING:
    from tqdm.auto import tqdm


OFFLINE_LOG_EVERY = 100
"""Offline learner steps between two logged loss lines."""


@dataclass
class TrainEvent:
    """A message to observers: kind is "metrics", "eval", "search", "frame" or "evaluated" (after
    each evaluation: the model just evaluated and the config, for observers that play it again;
    sent only to observers that name it in their `kinds`)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


Observer = Callable[[TrainEvent], None]
EVENT_KINDS = ("metrics", "eval", "search", "frame")


def _kinds(observer: Observer) -> tuple[str, ...]:
    """The events an observer reads: its `kinds` if it says (the search trees and frames cost a
    trace and a drawing at every step, so only observers that show them should ask), else all."""
    return getattr(observer, "kinds", EVENT_KINDS)


class RunDirectoryError(ValueError):
    """The run directory cannot be used as asked (the message says what to do)."""


class StopNow(KeyboardInterrupt):
    """A second Ctrl-C: stop in mid-step, without writing a checkpoint from a half-done step."""


class Diverged(ValueError):
    """The loss or the weights stopped being finite numbers; the last good checkpoint is kept."""


def _check_finite(model: torch.nn.Module, counters: Counters) -> None:
    """One host read: are all the weights finite numbers?"""
    if not bool(torch.stack([p.detach().isfinite().all() for p in model.parameters()]).all()):
        raise Diverged(
            f"the weights stopped being finite numbers by learner step {counters.train_steps}; "
            "the run stopped and kept its last good checkpoint, if it had written one: lower "
            "optim.lr and start again"
        )


@dataclass
class Counters:
    agent_steps: int = 0
    train_steps: int = 0
    offline_steps: int = 0
    episodes: int = 0
    next_eval: int = 0
    next_log: int = 0
    next_checkpoint: int = 0
    last_eval_at: tuple[int, int] = (-1, -1)
    """(agent steps, train steps) of the latest evaluation."""
    wall_s: float = 0.0


def _check_new_run_dir(run_dir: Path) -> None:
    if (run_dir / "config.json").exists() or (run_dir / "checkpoints").exists():
        raise RunDirectoryError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir} "
            "or choose another --run-dir"
        )


def train(
    config: Config,
    run_dir: str | Path,
    resume: bool = False,
    observers: Sequence[Observer] = (),
    progress: bool = True,
) -> Path:
    """Train (or with `resume`, continue) a run in `run_dir`; returns the run directory.

    The loop is the algorithm's whole schedule; `Run` holds what it steps (the actor, the
    replay, the reanalyzer, the learner), restores them on a resume, and keeps the books:
    metrics lines, evaluations, checkpoints, signals and progress."""
    run = Run(config, Path(run_dir), resume, observers, progress)
    c = run.counters
    with run:  # SIGTERM or Ctrl-C stops with a checkpoint; a loss that is not finite, without one
        while c.agent_steps < run.total_agent_steps and not run.stopped:
            run.evaluate_if_due()  # due here only after a resume from a stopped evaluation
            if run.stopped:
                break
            # act in every env, store
            run.record_agent_step(run.actor.step(run.learner.acting, trace=run.watched))
            for _ in range(run.learner_steps_owed()):  # train_ratio learner steps per agent step
                if run.stopped:  # (a long first burst stops too)
                    break
                run.record_learner_step(
                    learner_step(run.learner, run.replay, run.reanalyzer, c.train_steps)
                )
            run.log_losses_if_due()
            run.evaluate_if_due()
            run.checkpoint_if_due()
        offline = run.offline_steps()  # learner steps after collection (docs/algorithm.md §6)
        while c.offline_steps < offline and not run.stopped:
            run.record_learner_step(
                learner_step(run.learner, run.replay, run.reanalyzer, c.train_steps), offline=True
            )
        run.finish()  # the last losses and a final evaluation
    return run.run_dir


class Run:
    """A training run's parts and books, for `train`'s loop: built (or restored from the
    newest readable checkpoint) by the constructor, started and closed by `with`."""

    def __init__(self, config: Config, run_dir: Path, resume: bool, observers, progress: bool):
        if resume:
            find_checkpoint(run_dir)
            config = from_json((run_dir / "config.json").read_text())
        else:
            _check_new_run_dir(run_dir)
        self.config, self.run_dir, self.resume = validate(config.resolved()), run_dir, resume
        self.observers, self.progress = observers, progress
        self.watched = any("search" in _kinds(o) or "frame" in _kinds(o) for o in observers)
        config, t = self.config, self.config.train
        repeat = config.env.action_repeat
        assert repeat is not None  # (a resolved config)
        self.repeat = repeat
        self.total_agent_steps = -(-t.total_env_steps // self.repeat)
        torch.set_num_threads(config.runtime.torch_threads)
        torch.manual_seed(config.seed)
        self.device = device = resolve_device(config.device)
        set_numerics(config, device)
        # unknown environments fail here, before any write
        self.spec = probe_spec(config.env, config.seed)
        if not resume:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "config.json").write_text(to_json(config))
        self.learner = Learner(build_model(config, self.spec).to(device), config, device)
        frames_on = frames_device(config, self.spec, device)
        self.replay = Replay(
            config, self.spec, seed=config.seed, device=frames_on, batch_device=device
        )
        if progress:
            print(f"model on {device}; replay frames on {frames_on}")
        self.counters = Counters(
            next_eval=t.eval_every_env_steps,
            next_log=t.log_every_env_steps,
            next_checkpoint=t.checkpoint_every_env_steps,
        )
        self.reanalyze_rng = np.random.default_rng([config.seed, 3])
        self.restored: Path | None = None  # resumed: the checkpoint, and the state it saved
        self.state: RunState | None = None
        if resume:
            self.restored, self.replay, self.counters, self.reanalyze_rng, self.state = _restore(
                run_dir, config, self.spec, self.learner, self.replay
            )
            _keep_metrics_of_checkpoint(run_dir / "metrics.jsonl", self.state)
        self.actor = Actor(config, self.replay, seed=config.seed + 7919 * self.counters.agent_steps)
        self.reanalyzer: TargetSource = Reanalyzer(
            self.replay, self.learner.target.model, config, self.reanalyze_rng
        )
        self.metrics = open(run_dir / "metrics.jsonl", "a")
        self.started = time.perf_counter() - self.counters.wall_s
        self.last_checkpoint = time.perf_counter()
        self.losses: list[StepLosses] = []
        self.last_eval: str | None = None
        self.stopped = self.closed = False

    # ------------------------------------------------------------ start and stop
    def __enter__(self) -> Run:
        self.in_main_thread = threading.current_thread() is threading.main_thread()
        # SIGTERM and Ctrl-C end the run at the next step, with a checkpoint
        if self.in_main_thread:
            self.previous_handlers = {
                s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT)
            }
        self.bar: tqdm | None = None
        self.shown: dict[str, Any] = {}
        self._show_progress("acting")
        try:
            self._start()
        except BaseException:
            if not self.__exit__(*sys.exc_info()):
                raise
        return self

    def _stop(self, signum, frame) -> None:
        if self.stopped and signum == signal.SIGINT:  # a second Ctrl-C: stop at once
            raise StopNow
        self.stopped = True

    def _start(self) -> None:
        config = self.config
        # the same reanalysis, one batch ahead, in a second process
        if config.runtime.reanalysis_worker:
            from .reanalysis_worker import ReanalysisWorker

            self.reanalyzer = worker = ReanalysisWorker(
                config,
                self.spec,
                self.replay,
                self.learner.target.model,
                self.reanalyze_rng.bit_generator.state,
                str(self.restored / "replay.npz") if self.restored is not None else None,
            )
            if self.state is not None and self.state.pending_reanalysis is not None:
                worker.resume_pending(self.state.pending_reanalysis)
        # episodes the environments cannot continue end as time limits, last steps kept
        if self.resume:
            assert self.state is not None
            if self.state.pending_steps is not None:  # (the worker's replay copy sees both)
                store_pending_steps(self.replay, self.state.pending_steps, self.learner.acting)
            self.replay.end_open_episodes()

    def __exit__(self, kind, error, traceback) -> bool:
        if self.closed:  # (already closed by a failed start)
            return False
        self.closed = True
        # e.g. raised by an observer
        stopped_by = kind is not None and issubclass(kind, KeyboardInterrupt)
        at_once = kind is not None and issubclass(kind, StopNow)
        self.stopped = self.stopped or stopped_by
        if self.in_main_thread:
            for signum, handler in self.previous_handlers.items():
                signal.signal(signum, handler)
        assert self.bar is not None  # (drawn since __enter__)
        self.bar.close()
        try:
            if kind is None or not issubclass(kind, (Diverged, StopNow)):
                self.checkpoint()  # (never over the last good one after a divergence or in mid-step)
        finally:
            self.reanalyzer.close()
            self.actor.close()
            self.metrics.close()
        if self.stopped:
            written = "the last checkpoint written is kept" if at_once else "checkpoint written"
            print(
                f"interrupted: {written}; continue with `ezv2-lite train --resume {self.run_dir}`"
            )
        return stopped_by

    # ------------------------------------------------------------ the loop's steps
    @property
    def env_steps(self) -> int:
        return self.counters.agent_steps * self.repeat

    def record_agent_step(self, step) -> None:
        """Count an agent step in every environment; log the episodes it finished."""
        c = self.counters
        c.agent_steps += self.actor.num_envs
        c.episodes += len(step.finished_returns)
        if self.phase == "acting":
            assert self.bar is not None
            self.bar.update(self.actor.num_envs * self.repeat)
        else:  # (redrawn by the next learner step)
            self._show(env_steps=f"{self.env_steps}/{self.config.train.total_env_steps}")
        if self.watched:
            self.emit("search", trace=step.result.trace, env_steps=self.env_steps)
            self.emit(
                "frame",
                observation=step.observations[0],
                render=self.actor.render,
                env_steps=self.env_steps,
            )
        for ret, length in zip(step.finished_returns, step.finished_lengths, strict=True):
            self.log({"train_episode_return": ret, "train_episode_length": length})

    def learning_started(self) -> bool:
        return self.replay.num_ready >= max(
            self.config.train.start_transitions, self.config.optim.batch_size
        )

    def learner_steps_owed(self) -> int:
        """train_ratio learner steps per collected agent step, once learning has started."""
        if not self.learning_started():
            return 0
        if self.phase == "acting":
            self._show_progress("learning")
        return (
            int(self.counters.agent_steps * self.config.train.train_ratio)
            - self.counters.train_steps
        )

    def offline_steps(self) -> int:
        """Learner steps after collection (none if it ended before learning started)."""
        offline = self.config.train.offline_train_steps if self.learning_started() else 0
        if self.counters.offline_steps < offline and not self.stopped:
            self._show_progress("offline")
        return offline

    def record_learner_step(self, losses, offline: bool = False) -> None:
        """Count a learner step: refresh the acting model on its interval, log offline losses."""
        c, t = self.counters, self.config.train
        self.losses.append(losses)
        c.train_steps += 1
        assert self.bar is not None
        self.bar.update(1)
        if offline:
            c.offline_steps += 1
            if c.offline_steps % OFFLINE_LOG_EVERY == 0:
                line = self.log_losses(lr=self.learner.scheduler.get_last_lr()[0])
                self._show(loss=f"{line['total']:.3f}")
        elif c.train_steps % t.selfplay_update_interval == 0:
            self.learner.refresh_acting()
        if (
            time.perf_counter() - self.last_checkpoint
            > 60 * self.config.runtime.checkpoint_every_minutes
        ):
            self.checkpoint()  # long bursts of learner steps are not lost to a stop

    def log_losses_if_due(self) -> None:
        c = self.counters
        if self.losses and self.env_steps >= c.next_log:
            line = self.log_losses(lr=self.learner.scheduler.get_last_lr()[0])
            self._show(loss=f"{line['total']:.3f}", eval=self.last_eval)
            c.next_log += self.config.train.log_every_env_steps

    def evaluate_if_due(self) -> None:
        if self.env_steps < self.counters.next_eval:
            return
        result = self.evaluate()
        if result is not None:  # else stopped by SIGTERM: it runs again first thing after a resume
            self.counters.next_eval += self.config.train.eval_every_env_steps
        self.last_eval = None if result is None else f"{result:.1f}"

    def evaluate(self) -> float | None:
        """An evaluation, logged and told to the observers; its mean return (None when a SIGTERM
        stopped it)."""
        model, c = self.learner.model, self.counters
        result = _evaluate(model, self.config, c, self.log, self.progress, lambda: self.stopped)
        if result is not None:
            self.emit("evaluated", model=model, config=self.config, env_steps=self.env_steps)
        return result

    def checkpoint_if_due(self) -> None:
        if self.env_steps >= self.counters.next_checkpoint:
            self.checkpoint()
            self.counters.next_checkpoint += self.config.train.checkpoint_every_env_steps

    def finish(self) -> None:
        """The losses not yet logged, and a final evaluation unless one just ran."""
        if self.stopped:
            return
        if self.losses:
            self.log_losses()
        c = self.counters
        if tuple(c.last_eval_at) != (c.agent_steps, c.train_steps):
            self.evaluate()

    # ------------------------------------------------------------ progress
    def _show_progress(self, phase: str) -> None:
        """A fresh progress bar for a phase of the run, so that its rate, hence its time left,
        is the phase's own: "acting" counts env steps until learning starts; "learning" counts
        the learner steps of the collection, which take most of its time (train_ratio per agent
        step, those owed for the steps collected before learning started in a first burst),
        with the env steps beside them; "offline" counts the offline learner steps. A bar is
        redrawn whenever a step arrives a second or more after its last drawing (tqdm's default
        waits for as many steps as its fastest interval held, and so froze once learning slowed
        the steps down)."""
        t = self.config.train
        total, initial, unit = {
            "acting": (t.total_env_steps, self.env_steps, "env step"),
            "learning": (
                self._collection_learner_steps(),
                self.counters.train_steps,
                "learner step",
            ),
            "offline": (t.offline_train_steps, self.counters.offline_steps, "offline step"),
        }[phase]
        if self.bar is not None:  # its phase is over: done, not cut short
            finish(self.bar)
        self.phase = phase
        self.bar = progress_bar(
            total=total,
            initial=initial,
            unit=unit,
            desc=phase,
            miniters=1,
            mininterval=1.0,
            disable=not self.progress,
        )
        if phase != "acting":
            self._show(env_steps=f"{self.env_steps}/{t.total_env_steps}")

    def _show(self, **fields) -> None:
        """Values beside the bar (env steps, loss, evaluation; None: none yet), shown at its next
        drawing."""
        self.shown |= {name: value for name, value in fields.items() if value is not None}
        assert self.bar is not None
        self.bar.set_postfix(self.shown, refresh=False)

    def _collection_learner_steps(self) -> int:
        """Learner steps run by the end of collection: train_ratio per agent step collected,
        counted in whole actor steps of num_envs agent steps."""
        num_envs = self.actor.num_envs
        agent_steps = -(-self.total_agent_steps // num_envs) * num_envs
        return int(agent_steps * self.config.train.train_ratio)

    # ------------------------------------------------------------ books
    def emit(self, kind: str, **data) -> None:
        for observer in self.observers:
            if kind in _kinds(observer):
                observer(TrainEvent(kind, data))

    def log(self, line: dict) -> None:
        line = dict(
            env_steps=self.env_steps,
            train_steps=self.counters.train_steps,
            wall_s=round(time.perf_counter() - self.started, 3),
            **line,
        )
        self.metrics.write(json.dumps(line) + "\n")
        self.metrics.flush()
        self.emit("eval" if "eval_return_mean" in line else "metrics", **line)

    def log_losses(self, **extra) -> dict:
        """Log the mean of the losses since the last line (their one read) and forget them."""
        line = LossSummary.mean(self.losses) | extra
        if not np.isfinite(line["total"]):
            raise Diverged(
                f"the loss became {line['total']} by learner step {self.counters.train_steps} "
                f"({self.env_steps} env steps); the run stopped and kept its last good "
                "checkpoint, if it had written one: lower optim.lr (or raise "
                "optim.warmup_steps) and start again"
            )
        self.log(line)
        self.losses = []
        return line

    def checkpoint(self) -> None:
        learner, c = self.learner, self.counters
        self.last_checkpoint = time.perf_counter()
        c.wall_s = time.perf_counter() - self.started
        rng_state, pending = self.reanalyzer.checkpoint_state()
        _check_finite(learner.model, c)  # a diverged model must not replace the last good one
        RunState(
            **learner.state_dict(),
            rng=random_states(),
            counters=vars(c),
            reanalyze_rng=rng_state,
            pending_reanalysis=pending,
            metrics_bytes=self.metrics.tell(),
            pending_steps=self.actor.pending_steps(),
        ).save(self.run_dir, self.replay)


def _extend_budget_if_needed(run_dir: Path, total_env_steps: int) -> None:
    """Raise a run's budget before resuming it (its config.json records the new value)."""
    run_dir = Path(run_dir)
    find_checkpoint(run_dir)
    config = from_json((run_dir / "config.json").read_text())
    if config.train.total_env_steps < total_env_steps:
        from .config import override

        updated = override(config, train=dict(total_env_steps=total_env_steps))
        (run_dir / "config.json").write_text(to_json(updated))


def _evaluate(
    model, config: Config, counters: Counters, log, progress: bool, should_stop
) -> float | None:
    """Evaluate and log; the mean return, or None (nothing logged) when a SIGTERM stopped the
    evaluation."""
    diagnostics = RootDiagnostics(model.spec.num_actions)  # (None for continuous actions)
    try:
        returns = evaluate(
            model,
            config,
            config.train.eval_episodes,
            seed=10_000 + config.seed + counters.agent_steps,
            progress=progress,
            should_stop=should_stop,
            observe=diagnostics,
        )
    except EvaluationStopped:
        return None
    counters.last_eval_at = (counters.agent_steps, counters.train_steps)
    log(
        {
            "eval_return_mean": float(returns.mean()),
            "eval_return_std": float(returns.std()),
            "eval_episodes": len(returns),
            **diagnostics.summary(),
        }
    )
    return float(returns.mean())


def _restore(run_dir: Path, config: Config, spec, learner: Learner, replay: Replay):
    """Load the newest readable checkpoint into `learner`; -> (its path, replay, counters,
    reanalysis rng, saved state). An unreadable `latest` is said in one line, and `previous`
    is used instead."""
    checkpoints = complete_checkpoints(run_dir)
    for path in checkpoints:
        try:
            return (path, *_load_checkpoint(path, config, spec, learner, replay))
        except CheckpointError as error:
            if path == checkpoints[-1]:
                raise
            print(
                f"{error}; resuming from the checkpoint before it ({checkpoints[-1]}), and keeping "
                f"the unreadable one apart as {path.name}.unreadable"
            )
            shutil.rmtree(path.with_name(f"{path.name}.unreadable"), ignore_errors=True)
            path.rename(path.with_name(f"{path.name}.unreadable"))  # the next save must not keep it


def _load_checkpoint(path: Path, config: Config, spec, learner: Learner, replay: Replay):
    state = RunState.load(path)
    learner.load_state_dict(vars(state))
    restore_random_states(state.rng)
    try:
        replay = replay_file.load(
            path / "replay.npz", config, spec, replay.device, replay.batch_device
        )
    except Exception as error:
        raise CheckpointError(f"cannot read {path / 'replay.npz'}: {error}") from None
    rng = np.random.default_rng()
    rng.bit_generator.state = state.reanalyze_rng
    return replay, Counters(**state.counters), rng, state


def _keep_metrics_of_checkpoint(path: Path, state: RunState) -> None:
    """Cut metrics.jsonl back to what it held when the checkpoint was written: the lines a
    killed process logged after it are logged again by the resumed run, once."""
    if state.metrics_bytes is None or not path.exists():
        return
    keep = state.metrics_bytes
    if path.stat().st_size < keep:  # lines lost with the machine: keep the whole ones
        keep = path.read_bytes().rfind(b"\n") + 1
    with open(path, "r+b") as f:
        f.truncate(keep)
