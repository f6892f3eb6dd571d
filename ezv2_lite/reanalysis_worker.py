"""Reanalysis in a second process, one batch ahead of the learner (`runtime.reanalysis_worker`).

Half of a learner step is reanalysis (a search from every position of the batch
with the target model, docs/algorithm.md §5), the other half the gradient update. The
authors run reanalysis in separate worker processes. This is the smallest
version of that: one process that

- keeps its own copy of the replay, fed the same appended steps in the same
  order (the replay's `listener`);
- holds a copy of the target model, sent again whenever the learner refreshes it;
- computes the targets of batch t+1 while the learner updates on batch t.

(A second thread would not help: Python's GIL serialises the thousands of small
calls both halves make.) Two differences from the one-process loop follow, and
both are deterministic:
- batch t+1 is sampled before update t writes its priorities;
- when update t refreshes the target model, batch t+1 has already been
  reanalysed with the previous one.

A checkpoint records the prefetched batch (its transitions, weights and padding
actions) and the reanalysis rng as it was before that batch, so that a resumed
run reanalyses the same batch with the same rng as the uninterrupted run did.

Messages to the worker, handled in order: ("append", method, args) a replay
write; ("target", arrays) new target weights; ("reanalyze", indices, weights,
train_step), answered with (targets, rng state before, rng state after);
("stop",).
"""

from __future__ import annotations

import importlib
import multiprocessing
import queue
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import replay_file
from .config import Config, from_json, to_json
from .envs import EnvSpec
from .replay import Replay, SampledBatch
from .targets import Targets


def _numpy_state(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """A state dict as NumPy arrays (sent by value; torch would move tensors to shared memory)."""
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def _step_modules() -> list[str]:
    """The modules that registered faster model steps in this process (e.g. ezv2_lite.accel):
    the worker imports them too, so that its searches run as the trainer's would."""
    from .search.search import FASTER_STEPS

    # (a module imports its package)
    return sorted({step.__module__ for step in FASTER_STEPS.values()})


def _serve(
    requests,
    results,
    config_json: str,
    spec: EnvSpec,
    replay_path: str | None,
    target: dict[str, np.ndarray],
    rng_state: Mapping[str, Any],
    step_modules: list[str],
) -> None:
    """The worker process: a replay copy, the target model, and a loop over messages."""
    from .model import build_model, resolve_device, set_numerics
    from .targets import reanalyze

    for name in step_modules:
        importlib.import_module(name)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the trainer, which stops us
    torch.set_num_threads(1)
    config = from_json(config_json)
    device = resolve_device(config.device)
    set_numerics(config, device)  # the trainer's determinism and precision
    if replay_path is None:
        replay = Replay(config, spec, batch_device=device)
    else:  # resumed: the checkpoint's replay; the trainer's changes to it follow as messages
        replay = replay_file.load(replay_path, config, spec, batch_device=device)
    model = build_model(config, spec).to(device).eval().requires_grad_(False)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in target.items()})
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state
    results.put("ready")  # the replay file has been read: the trainer may overwrite it now
    while True:
        message = requests.get()
        if message[0] == "append":
            getattr(replay, message[1])(*message[2])
        elif message[0] == "target":
            model.load_state_dict({k: torch.from_numpy(v) for k, v in message[1].items()})
        elif message[0] == "reanalyze":
            _, indices, weights, train_step = message
            before = rng.bit_generator.state
            batch = replay.windows(indices, weights)
            targets = reanalyze(replay, batch, model, config, train_step, rng)
            results.put((targets, before, rng.bit_generator.state))
        else:
            return


@dataclass
class _Pending:
    batch: SampledBatch
    train_step: int
    result: tuple | None = None  # (targets, rng before, rng after) once received


class ReanalysisWorker:
    """The trainer's side: start the worker, mirror the replay into it, prefetch batches."""

    def __init__(
        self,
        config: Config,
        spec: EnvSpec,
        replay: Replay,
        target: torch.nn.Module,
        rng_state: Mapping[str, Any],
        replay_path: str | None = None,
    ):
        context = multiprocessing.get_context("spawn")  # safe with threads, CUDA and Jupyter
        self.requests, self.results = context.Queue(), context.Queue()
        self.process = context.Process(
            target=_serve,
            daemon=True,
            name="ezv2-reanalysis",
            args=(
                self.requests,
                self.results,
                to_json(config),
                spec,
                replay_path,
                _numpy_state(target),
                rng_state,
                _step_modules(),
            ),
        )
        self.process.start()
        self._get()  # "ready"
        self.replay, self.batch_size = replay, config.optim.batch_size
        self.rng_state = rng_state  # the worker's reanalysis rng after its last finished request
        self.pending: _Pending | None = None
        replay.listener = lambda method, args: self.requests.put(("append", method, args))

    def _request(self, train_step: int, batch: SampledBatch | None = None) -> None:
        batch = self.replay.sample(self.batch_size) if batch is None else batch
        self.requests.put(("reanalyze", batch.indices, batch.weights, train_step))
        self.pending = _Pending(batch, train_step)

    def _get(self):
        """The worker's next answer (raising if the worker died instead)."""
        while True:
            try:
                return self.results.get(timeout=1.0)
            except queue.Empty:
                if not self.process.is_alive():
                    raise RuntimeError(
                        f"the reanalysis worker stopped (exit code "
                        f"{self.process.exitcode}); see its error above"
                    ) from None

    def _settle(self) -> None:
        """Wait for the pending request's targets."""
        assert self.pending is not None
        if self.pending.result is None:
            self.pending.result = self._get()

    def next(self, train_step: int) -> tuple[SampledBatch, Targets]:
        """The batch and targets for learner step `train_step`; the next batch is then sampled and
        sent, so that the worker reanalyses it while this one is learned from."""
        if self.pending is None:
            self._request(train_step)
        self._settle()
        assert self.pending is not None and self.pending.result is not None
        batch, (targets, _, self.rng_state) = self.pending.batch, self.pending.result
        self._request(train_step + 1)
        return batch, targets

    def set_target(self, model: torch.nn.Module) -> None:
        """Send refreshed target weights (used from the next request on)."""
        self.requests.put(("target", _numpy_state(model)))

    def checkpoint_state(self) -> tuple[Mapping[str, Any], dict | None]:
        """(reanalysis rng state before the pending batch, the pending batch as JSON-able lists
        or None): what `resume_pending` needs to pick up exactly where this run is."""
        if self.pending is None:
            return self.rng_state, None
        self._settle()
        assert self.pending.result is not None
        batch = self.pending.batch
        return self.pending.result[1], {
            "train_step": self.pending.train_step,
            "indices": batch.indices.tolist(),
            "weights": batch.weights.tolist(),
            "actions": batch.actions.tolist(),
        }

    def resume_pending(self, pending: dict) -> None:
        """Send the batch a checkpoint had prefetched again (without touching the replay's rng)."""
        rng_state = self.replay.rng.bit_generator.state
        batch = self.replay.windows(np.array(pending["indices"]), np.array(pending["weights"]))
        self.replay.rng.bit_generator.state = rng_state  # windows() draws padding actions
        batch.actions = np.array(pending["actions"], dtype=batch.actions.dtype)
        self._request(pending["train_step"], batch)

    def close(self) -> None:
        self.replay.listener = None
        if self.process.is_alive():
            self.requests.put(("stop",))
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.requests.cancel_join_thread()
        self.results.cancel_join_thread()
