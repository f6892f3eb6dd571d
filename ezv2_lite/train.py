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
evaluations, a recent search trace and a recent frame.
"""

from __future__ import annotations

import copy
import os
import json
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from .actor import Actor, store_pending_steps
from .checkpoint import (CheckpointError, RunState, complete_checkpoints, find_checkpoint, random_states,
                         restore_random_states)
from .config import Config, from_json, to_json, validate
from .envs import probe_spec
from .evaluate import EvaluationStopped, evaluate
from .learner import Learner, LossInfo, learner_step
from .model import build_model, resolve_device
from .replay import Replay, frames_device
from .targets import Reanalyzer

OFFLINE_LOG_EVERY = 100
"""Offline learner steps between two logged loss lines."""


@dataclass
class TrainEvent:
    """A message to observers: kind is "metrics", "eval", "search" or "frame"."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


Observer = Callable[[TrainEvent], None]


class RunDirectoryError(ValueError):
    """The run directory cannot be used as asked (the message says what to do)."""


class Diverged(ValueError):
    """The loss or the weights stopped being finite numbers; the last good checkpoint is kept."""


def _check_finite(model: torch.nn.Module, counters: Counters) -> None:
    """One host read: are all the weights finite numbers?"""
    if not bool(torch.stack([p.detach().isfinite().all() for p in model.parameters()]).all()):
        raise Diverged(f"the weights stopped being finite numbers by learner step {counters.train_steps}; "
                       "the run stopped and kept its last good checkpoint: lower optim.lr and start again")


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
        raise RunDirectoryError(f"{run_dir} already holds a run; continue it with --resume {run_dir} "
                                "or choose another --run-dir")


def train(config: Config, run_dir: str | Path, resume: bool = False,
          observers: list[Observer] | tuple = (), progress: bool = True) -> Path:
    """Train (or with `resume`, continue) a run in `run_dir`; returns the run directory."""
    run_dir = Path(run_dir)
    if resume:
        find_checkpoint(run_dir)
        config = from_json((run_dir / "config.json").read_text())
    else:
        _check_new_run_dir(run_dir)
    config = validate(config.resolved())
    t = config.train
    repeat = config.env.action_repeat
    torch.set_num_threads(t.torch_threads)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    set_numerics(config, device)
    spec = probe_spec(config.env, config.seed)  # unknown environments fail here, before any write
    if not resume:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(to_json(config))
    model = build_model(config, spec).to(device)
    learner = Learner(model, config, device)
    frames_on = frames_device(config, spec, device)
    replay = Replay(config, spec, seed=config.seed, device=frames_on, batch_device=device)
    if progress:
        print(f"model on {device}; replay frames on {frames_on}")
    counters = Counters(next_eval=t.eval_every_env_steps, next_log=t.log_every_env_steps,
                        next_checkpoint=t.checkpoint_every_env_steps)
    reanalyze_rng = np.random.default_rng([config.seed, 3])
    pending = None  # a batch the reanalysis worker had prefetched when the checkpoint was taken
    if resume:
        restored, replay, counters, reanalyze_rng, state = _restore(run_dir, config, spec, learner, replay)
        pending = state.pending_reanalysis
        _keep_metrics_of_checkpoint(run_dir / "metrics.jsonl", state)
    acting = copy.deepcopy(model).eval()
    actor = Actor(config, replay, seed=config.seed + 7919 * counters.agent_steps)

    def emit(kind: str, **data) -> None:
        for observer in observers:
            observer(TrainEvent(kind, data))

    metrics = open(run_dir / "metrics.jsonl", "a")
    started = time.perf_counter() - counters.wall_s

    def log(line: dict) -> None:
        line = dict(env_steps=counters.agent_steps * repeat, train_steps=counters.train_steps,
                    wall_s=round(time.perf_counter() - started, 3), **line)
        metrics.write(json.dumps(line) + "\n")
        metrics.flush()
        emit("eval" if "eval_return_mean" in line else "metrics", **line)

    last_checkpoint = [time.perf_counter()]

    def checkpoint() -> None:
        last_checkpoint[0] = time.perf_counter()
        counters.wall_s = time.perf_counter() - started
        rng_state, pending = reanalyzer.checkpoint_state()
        _check_finite(learner.model, counters)  # a diverged model must not replace the last good one
        RunState(model=learner.model.state_dict(), target=learner.target.model.state_dict(),
                 snapshot=learner.target.snapshot,
                 optimizer={"optimizer": learner.optimizer.state_dict(),
                            "scheduler": learner.scheduler.state_dict()},
                 rng=random_states(), counters=vars(counters), learner_steps=learner.steps,
                 reanalyze_rng=rng_state, pending_reanalysis=pending, metrics_bytes=metrics.tell(),
                 pending_steps=actor.pending_steps()).save(run_dir, replay)

    def checkpoint_if_due() -> None:  # long bursts of learner steps are not lost to a stop
        if time.perf_counter() - last_checkpoint[0] > 60 * t.checkpoint_every_minutes:
            checkpoint()

    def log_losses(losses: list, **extra) -> dict:
        line = LossInfo.mean(losses) | extra  # the losses' one read since the last line
        if not np.isfinite(line["total"]):
            raise Diverged(f"the loss became {line['total']} by learner step {counters.train_steps} "
                           f"({counters.agent_steps * repeat} env steps); the run stopped and kept its "
                           "last good checkpoint: lower optim.lr (or raise optim.warmup_steps) and start again")
        log(line)
        return line

    def learning_started() -> bool:
        return replay.num_ready >= max(t.start_transitions, config.optim.batch_size)

    total_agent_steps = -(-t.total_env_steps // repeat)
    interrupted = []
    in_main_thread = threading.current_thread() is threading.main_thread()

    def stopping() -> bool:  # asked by an evaluation in progress at every step
        return bool(interrupted)

    def evaluate_if_due() -> str | None:
        if counters.agent_steps * repeat < counters.next_eval:
            return last_eval
        result = _evaluate(learner.model, config, counters, log, progress, stopping)
        if result is not None:  # else stopped by SIGTERM: it runs again first thing after a resume
            counters.next_eval += t.eval_every_env_steps
        return result

    if in_main_thread:  # SIGTERM ends the run cleanly, with a checkpoint (like Ctrl-C)
        previous = signal.signal(signal.SIGTERM, lambda *_: interrupted.append(True))
    bar = tqdm(total=t.total_env_steps, initial=counters.agent_steps * repeat, unit="env step",
               disable=not progress, dynamic_ncols=True)
    last_eval, losses = None, []
    reanalyzer, diverged = Reanalyzer(replay, learner.target.model, config, reanalyze_rng), False
    try:
        if t.reanalysis_worker:  # the same, one batch ahead, in a second process
            from .reanalysis_worker import ReanalysisWorker
            reanalyzer = ReanalysisWorker(config, spec, replay, learner.target.model,
                                          reanalyze_rng.bit_generator.state,
                                          str(restored / "replay.npz") if resume else None)
            if pending is not None:
                reanalyzer.resume_pending(pending)
        if resume:  # episodes the environments cannot continue end as time limits, last steps kept
            if state.pending_steps is not None:     # (the worker's replay copy sees both)
                store_pending_steps(replay, state.pending_steps, acting)
            replay.end_open_episodes()
        while counters.agent_steps < total_agent_steps and not interrupted:
            last_eval = evaluate_if_due()  # only due here after a resume from a stopped evaluation
            if interrupted:
                break
            step = actor.step(acting, trace=bool(observers))
            counters.agent_steps += actor.num_envs
            counters.episodes += len(step.finished_returns)
            bar.update(actor.num_envs * repeat)
            if observers:
                emit("search", trace=step.result.trace, env_steps=counters.agent_steps * repeat)
                emit("frame", observation=step.observations[0], env_steps=counters.agent_steps * repeat)
            for ret, length in zip(step.finished_returns, step.finished_lengths):
                log({"train_episode_return": ret, "train_episode_length": length})
            # learner steps owed: train_ratio per collected agent step, once learning has started
            if learning_started():
                owed = int(counters.agent_steps * t.train_ratio) - counters.train_steps
                for _ in range(owed):
                    if interrupted:  # a long burst (the first one, or train_ratio > 1) stops too
                        break
                    losses.append(learner_step(learner, replay, reanalyzer, counters.train_steps))
                    counters.train_steps += 1
                    if counters.train_steps % t.selfplay_update_interval == 0:
                        acting.load_state_dict(learner.model.state_dict())
                    checkpoint_if_due()
            if losses and counters.agent_steps * repeat >= counters.next_log:
                line = log_losses(losses, lr=learner.scheduler.get_last_lr()[0])
                bar.set_postfix(loss=f"{line['total']:.3f}", eval=last_eval)
                losses = []
                counters.next_log += t.log_every_env_steps
            last_eval = evaluate_if_due()
            if counters.agent_steps * repeat >= counters.next_checkpoint:
                checkpoint()
                counters.next_checkpoint += t.checkpoint_every_env_steps
        # learner steps after collection ends (docs/algorithm.md §6), counted so that a resume continues them;
        # none if collection ended before learning started (a budget below start_transitions)
        offline = t.offline_train_steps if learning_started() else 0
        if counters.offline_steps < offline and not interrupted:
            bar.close()
            bar = tqdm(total=offline, initial=counters.offline_steps, unit="offline step",
                       disable=not progress, dynamic_ncols=True)
        while counters.offline_steps < offline and not interrupted:
            losses.append(learner_step(learner, replay, reanalyzer, counters.train_steps))
            counters.train_steps += 1
            counters.offline_steps += 1
            bar.update(1)
            if counters.offline_steps % OFFLINE_LOG_EVERY == 0:
                log_losses(losses, lr=learner.scheduler.get_last_lr()[0])
                losses = []
            checkpoint_if_due()
        if not interrupted:
            if losses:
                log_losses(losses)
            if tuple(counters.last_eval_at) != (counters.agent_steps, counters.train_steps):
                _evaluate(learner.model, config, counters, log, progress, stopping)
    except KeyboardInterrupt:
        interrupted.append(True)
    except Diverged:
        diverged = True
        raise
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
        bar.close()
        try:
            if not diverged:
                checkpoint()
        finally:
            reanalyzer.close()
            actor.close()
            metrics.close()
    if interrupted:
        print(f"interrupted: checkpoint written; continue with `ezv2-lite train --resume {run_dir}`")
    return run_dir


def _extend_budget_if_needed(run_dir: Path, total_env_steps: int) -> None:
    """Raise a run's budget before resuming it (its config.json records the new value)."""
    run_dir = Path(run_dir)
    find_checkpoint(run_dir)
    config = from_json((run_dir / "config.json").read_text())
    if config.train.total_env_steps < total_env_steps:
        from .config import override
        updated = override(config, train=dict(total_env_steps=total_env_steps))
        (run_dir / "config.json").write_text(to_json(updated))


def _evaluate(model, config: Config, counters: Counters, log, progress: bool,
              should_stop) -> str | None:
    """Evaluate and log; None (nothing logged) when a SIGTERM stopped the evaluation."""
    try:
        returns = evaluate(model, config, config.train.eval_episodes,
                           seed=10_000 + config.seed + counters.agent_steps, progress=progress,
                           should_stop=should_stop)
    except EvaluationStopped:
        return None
    counters.last_eval_at = (counters.agent_steps, counters.train_steps)
    log({"eval_return_mean": float(returns.mean()), "eval_return_std": float(returns.std()),
         "eval_episodes": len(returns)})
    return f"{returns.mean():.1f}"


def set_numerics(config: Config, device: torch.device) -> None:
    """Determinism and, on a GPU, the precision of float32 products (`train.deterministic`,
    `train.tf32`), for the whole process (the trainer and its reanalysis worker each call it);
    bfloat16 autocast is the learner's (`train.bf16_autocast`). Deterministic mode would also
    fill every new `torch.empty` with NaN to expose reads of uninitialised memory: a cost on
    every allocation that reproducibility does not need, switched off."""
    t = config.train
    torch.utils.deterministic.fill_uninitialized_memory = False
    if t.deterministic and device.type == "cuda":  # cuBLAS needs it for reproducible products
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(t.deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = t.deterministic
    torch.backends.cudnn.benchmark = not t.deterministic
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = t.tf32


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
            print(f"{error}; resuming from the checkpoint before it ({checkpoints[-1]})")


def _load_checkpoint(path: Path, config: Config, spec, learner: Learner, replay: Replay):
    state = RunState.load(path)
    learner.model.load_state_dict(state.model)
    learner.target.model.load_state_dict(state.target)
    learner.target.snapshot = state.snapshot
    learner.optimizer.load_state_dict(state.optimizer["optimizer"])
    learner.scheduler.load_state_dict(state.optimizer["scheduler"])
    restore_random_states(state.rng)
    learner.steps = state.learner_steps
    try:
        replay = Replay.load(path / "replay.npz", config, spec, replay.device, replay.batch_device)
    except Exception as error:
        raise CheckpointError(f"cannot read {path / 'replay.npz'}: {error}") from None
    rng = np.random.default_rng()
    rng.bit_generator.state = state.reanalyze_rng
    return replay, Counters(**state.counters), rng, state


def _keep_metrics_of_checkpoint(path: Path, state: RunState) -> None:
    """Cut metrics.jsonl back to what it held when the checkpoint was written: the lines a
    killed process logged after it are logged again by the resumed run, once."""
    if state.metrics_bytes is not None and path.exists() and path.stat().st_size > state.metrics_bytes:
        with open(path, "r+b") as f:
            f.truncate(state.metrics_bytes)
