"""Checkpoints: save and restore a whole run, atomically, with no pickle (README.md, "Training").

    RUN_DIR/checkpoints/latest/
        model.pt        online model          (torch state dicts, read with weights_only=True)
        target.pt       lagged target model
        snapshot.pt     the online weights that become the target at the next refresh
        optimizer.pt    optimiser and learning-rate schedule
        rng.pt          torch's random states (the CPU's and, on CUDA machines, every GPU's)
        replay.npz      every stored transition with its priority (numpy, allow_pickle=False)
        pending.npz     the last step of each open episode, still waiting for the value of the
                        observation it reached (a resume stores it; `actor.store_pending_steps`)
        state.json      counters and NumPy random states
        COMPLETE        written last: a checkpoint without it is ignored

A new checkpoint is written to `checkpoints/tmp`, then renamed to `latest`;
the one it replaces stays as `previous`. A run killed at any moment leaves at
least one complete checkpoint, and a resume that cannot read `latest` (a disk
that failed it, a file cut short) says so in one line and resumes from
`previous` (`complete_checkpoints`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import replay_file


class CheckpointError(ValueError):
    """A checkpoint is missing, incomplete or unreadable; the message says what to do."""


TENSOR_FILES = ("model", "target", "snapshot", "optimizer", "rng")
"""The torch files of a checkpoint, one per field of RunState of that name."""


@dataclass
class RunState:
    """Everything a checkpoint holds besides the replay: the one place that knows what a
    run's state is and which file keeps each part. The trainer builds one to save and
    reads one to resume; `ezv2-lite eval` and `load_run` read the model files alone
    (`load_tensors(path, "model")`, `"target"`)."""

    model: dict[str, torch.Tensor]  # the online model's state dict
    target: dict[str, torch.Tensor]  # the lagged target model's
    snapshot: dict[str, torch.Tensor]  # the next target, taken `interval` steps ago
    optimizer: dict[str, Any]  # {"optimizer": ..., "scheduler": ...} state dicts
    rng: dict[str, Any]  # torch's random states (`random_states`)
    counters: dict[str, Any]  # the training loop's counters
    learner_steps: int
    reanalyze_rng: Mapping[str, Any]  # the reanalysis NumPy generator's state
    pending_reanalysis: dict | None = None  # a batch the reanalysis worker had prefetched
    metrics_bytes: int | None = None  # metrics.jsonl's length when this was saved
    pending_steps: dict[str, np.ndarray] | None = None  # `Actor.pending_steps`

    def save(self, run_dir: Path, replay) -> Path:
        """Write a complete checkpoint with `replay` and make it `latest` atomically."""
        root = Path(run_dir) / "checkpoints"
        tmp, latest, previous = root / "tmp", root / "latest", root / "previous"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in TENSOR_FILES:
            torch.save(getattr(self, name), tmp / f"{name}.pt")
        replay_file.save(replay, tmp / "replay.npz")
        if self.pending_steps is not None:
            # (mypy checks the **arrays against savez's allow_pickle: bool too)
            np.savez(tmp / "pending.npz", **self.pending_steps)  # type: ignore[arg-type]
        state = {
            "counters": self.counters,
            "learner_steps": self.learner_steps,
            "reanalyze_rng": self.reanalyze_rng,
            "pending_reanalysis": self.pending_reanalysis,
            "metrics_bytes": self.metrics_bytes,
        }
        (tmp / "state.json").write_text(json.dumps(state, indent=1))
        (tmp / "COMPLETE").write_text("ok\n")
        if (
            latest / "COMPLETE"
        ).exists():  # else a kill between the two renames left only `previous`
            shutil.rmtree(previous, ignore_errors=True)
            latest.rename(previous)
        shutil.rmtree(latest, ignore_errors=True)
        tmp.rename(latest)
        return latest

    @classmethod
    def load(cls, path: Path) -> RunState:
        """The state saved in checkpoint folder `path` (a CheckpointError if a file cannot be read)."""
        path = Path(path)
        tensors: dict[str, Any] = {name: load_tensors(path, name) for name in TENSOR_FILES}
        try:
            state = json.loads((path / "state.json").read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise CheckpointError(f"cannot read {path / 'state.json'}: {error}") from None
        try:
            return cls(**tensors, **state, pending_steps=_load_pending(path))
        except TypeError as error:  # a state.json with fields this version does not know
            raise CheckpointError(f"cannot read {path / 'state.json'}: {error}") from None


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """A run's complete checkpoints, newest first (`latest`, then `previous`), or a
    CheckpointError saying why there is none."""
    root = Path(run_dir) / "checkpoints"
    found = [root / name for name in ("latest", "previous") if (root / name / "COMPLETE").exists()]
    if found:
        return found
    if not Path(run_dir).is_dir():
        raise CheckpointError(
            f"{run_dir} is not a directory; give the run directory of an earlier "
            "`ezv2-lite train` run"
        )
    raise CheckpointError(
        f"{run_dir} holds no complete checkpoint (checkpoints/latest/COMPLETE); "
        "nothing to resume: start a new run instead"
    )


def find_checkpoint(run_dir: Path) -> Path:
    """The newest complete checkpoint of a run, or a CheckpointError saying why there is none."""
    return complete_checkpoints(run_dir)[0]


def load_tensors(path: Path, name: str) -> dict:
    """A state dict saved by `RunState.save`, read without pickle."""
    try:
        return torch.load(path / f"{name}.pt", map_location="cpu", weights_only=True)
    except Exception as error:  # truncated or foreign files
        reason = str(error).split(". ")[0]  # torch's messages run on for several sentences
        raise CheckpointError(
            f"cannot read checkpoint file {path / (name + '.pt')}: {type(error).__name__}: {reason}"
        ) from None


def _load_pending(path: Path) -> dict[str, np.ndarray] | None:
    """A checkpoint's pending steps (None in a checkpoint written before they were kept)."""
    if not (path / "pending.npz").exists():
        return None
    try:
        with np.load(path / "pending.npz", allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError) as error:
        raise CheckpointError(f"cannot read {path / 'pending.npz'}: {error}") from None


def load_run(run_dir: str | Path):
    """A finished or interrupted run, ready to inspect: (config, model, target model, replay).

    The models are in eval mode on the CPU; the replay is the checkpoint's.
    """
    from .config import from_json
    from .envs import probe_spec
    from .model import build_model

    run_dir = Path(run_dir)
    path = find_checkpoint(run_dir)
    config = from_json((run_dir / "config.json").read_text())
    spec = probe_spec(config.env, config.seed)
    model, target = build_model(config, spec), build_model(config, spec)
    model.load_state_dict(load_tensors(path, "model"))  # the two models alone: RunState's
    target.load_state_dict(load_tensors(path, "target"))  # model and target files
    replay = replay_file.load(path / "replay.npz", config, spec)
    return config, model.eval(), target.eval(), replay


def random_states() -> dict[str, Any]:
    """Torch's random states: the CPU generator's and, where CUDA is present, every GPU's (the
    learner draws its entropy noise on the model's device)."""
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # (a CPU run does not start CUDA)
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states: dict[str, Any]) -> None:
    """Put back what `random_states` saved (GPUs beyond this machine's count are skipped)."""
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        for index, state in enumerate(states["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(state, index)
