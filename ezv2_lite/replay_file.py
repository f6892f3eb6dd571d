"""A replay as one `.npz` file: NumPy's own layout, no pickle.

    bookkeeping  lengths, closed, terminal     per episode
                 open_slots, open_episodes     which episodes are still open, in which slot
                 priorities, ready, episode_of, position_of   per transition
                 max_priority, rng_state       the sampler's state
    episodes     frames, values                T + 1 per episode, episodes concatenated
                 actions, rewards, raw_rewards T per episode

`save` streams each flat array episode by episode, so saving never holds a second copy of
the frames (2.8 GB for Atari 100k); `load` reads each episode straight into its place in
the lanes (`replay.py`). Files written before the lanes existed have the same layout.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import torch

from .config import Config
from .envs import EnvSpec
from .replay import Replay

EPISODE_ARRAYS = {"frames": 1, "values": 1, "actions": 0, "rewards": 0, "raw_rewards": 0}
"""The per-episode arrays a replay file stores flat, with how many entries beyond T each has."""


def _read_npy_header(f) -> tuple[tuple[int, ...], np.dtype]:
    """The shape of one row and the dtype of the .npy stream `f`, leaving `f` at its data."""
    version = np.lib.format.read_magic(f)
    read = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran_order, dtype = read(f)
    if fortran_order:
        raise ValueError("replay file: Fortran-ordered arrays are not written by replay_file.save")
    return tuple(shape[1:]), dtype


def _read_into(f, target: np.ndarray, path) -> None:
    if target.nbytes == 0:
        return
    # (numpy's stubs declare an array a buffer only from Python 3.12 on)
    view = memoryview(target).cast("B")  # type: ignore[arg-type]
    if f.readinto(view) != view.nbytes:
        raise ValueError(
            f"{path}: the replay file ends early (truncated or not written by replay_file.save)"
        )


def bookkeeping(replay: Replay) -> dict[str, np.ndarray]:
    """The replay's arrays other than the episodes' contents (small)."""
    n = replay.num_episodes
    return {
        "lengths": replay.length[:n].copy(),
        "closed": replay.closed[:n].copy(),
        "terminal": replay.terminal[:n].copy(),
        "open_slots": np.array(sorted(replay.open), np.int64),
        "open_episodes": np.array([replay.open[s] for s in sorted(replay.open)], np.int64),
        "priorities": replay.priorities[: replay.num_transitions],
        "ready": replay.ready[: replay.num_transitions],
        "episode_of": replay.episode_of[: replay.num_transitions],
        "position_of": replay.position_of[: replay.num_transitions],
        "max_priority": np.array(replay.max_priority),
        "rng_state": np.array(json.dumps(replay.rng.bit_generator.state)),
    }


def episode_parts(replay: Replay, name: str):
    """Each episode's stored part of one of EPISODE_ARRAYS, in episode order, one at a time
    (host arrays; frames on a GPU are copied one episode at a time)."""
    for e in range(replay.num_episodes):
        part = getattr(replay.episode(e), name)
        yield part.cpu().numpy() if isinstance(part, torch.Tensor) else part


def row_of(replay: Replay, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape of one step of the lane array `name`, and its NumPy dtype."""
    array = getattr(replay, name)
    if isinstance(array, torch.Tensor):
        return tuple(array.shape[2:]), np.dtype(str(array.dtype).removeprefix("torch."))
    return array.shape[2:], array.dtype


def state_dict(replay: Replay) -> dict[str, np.ndarray]:
    """Every array of the replay, flat (the episodes' arrays concatenated); no Python objects."""
    arrays = bookkeeping(replay)
    for name in EPISODE_ARRAYS:
        row, dtype = row_of(replay, name)
        arrays[name] = np.concatenate([np.zeros((0, *row), dtype), *episode_parts(replay, name)])
    return arrays


def save(replay: Replay, path: str | Path) -> None:
    """Write `state_dict()` as an `.npz` (np.savez's layout), streaming each flat array episode
    by episode, so that saving never holds a second copy of the frames (2.8 GB for Atari 100k)."""
    with zipfile.ZipFile(path, "w", allowZip64=True) as archive:
        for name, array in bookkeeping(replay).items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, array, allow_pickle=False)
        for name, extra in EPISODE_ARRAYS.items():
            row, dtype = row_of(replay, name)
            rows = int(replay.length[: replay.num_episodes].sum()) + extra * replay.num_episodes
            header = {
                "descr": np.lib.format.dtype_to_descr(dtype),
                "fortran_order": False,
                "shape": (rows, *row),
            }
            with archive.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array_header_2_0(f, header)
                for part in episode_parts(replay, name):
                    f.write(np.ascontiguousarray(part).data)


def place_episodes(lengths: np.ndarray, open_lane: dict[int, int], lanes: int):
    """Where each of the episodes (lengths [E]) goes in `lanes` lanes: each open episode at the
    end of its slot's lane (it will grow), the closed ones first, each in the shortest lane.
    Returns (lane [E], start [E], offsets used per lane [lanes])."""
    lane, start = np.zeros(len(lengths), np.int64), np.zeros(len(lengths), np.int64)
    used = np.zeros(lanes, np.int64)
    for e in [e for e in range(len(lengths)) if e not in open_lane] + list(open_lane):
        lane[e] = open_lane.get(e, int(np.argmin(used)))
        start[e] = used[lane[e]]
        used[lane[e]] += lengths[e] + 1
    return lane, start, used


def load(
    path: str | Path,
    config: Config,
    spec: EnvSpec,
    device: str | torch.device = "cpu",
    batch_device: str | torch.device | None = None,
) -> Replay:
    """Read a replay written by `save` (no pickle). Each episode is read straight into its
    place in the lanes: the open episode of environment slot s at the end of lane s, the
    closed ones wherever a lane is shortest (where an episode lies changes no batch)."""
    replay = Replay(config, spec, device=device, batch_device=batch_device)
    with np.load(path, allow_pickle=False) as npz:
        data = {name: npz[name] for name in npz.files if name not in EPISODE_ARRAYS}
    lengths = data["lengths"]
    n = len(lengths)
    open_lane = dict(zip(data["open_episodes"].tolist(), data["open_slots"].tolist(), strict=True))
    lanes = max([slot + 1 for slot in open_lane.values()] + [config.train.num_envs])
    replay.lane, replay.start, used = place_episodes(lengths, open_lane, lanes)
    replay.length, replay.closed, replay.terminal = (
        lengths.copy(),
        data["closed"].copy(),
        data["terminal"].copy(),
    )
    replay.num_episodes = n
    replay._reserve(lanes - 1, max(int(used.max()) - 1, 0))
    replay.used = used
    frames = np.zeros(replay.frames.shape, row_of(replay, "frames")[1])  # read on the host
    targets = dict(
        frames=frames,
        values=replay.values,
        actions=replay.actions,
        rewards=replay.rewards,
        raw_rewards=replay.raw_rewards,
    )
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.open(f"{name}.npy") for name in EPISODE_ARRAYS}
        try:
            for name, f in members.items():
                row, dtype = _read_npy_header(f)
                expected = targets[name]
                if n and (row != expected.shape[2:] or dtype != expected.dtype):
                    raise ValueError(
                        f"{path}: {name} holds {dtype}{list(row)} per step, but this "
                        f"environment stores {expected.dtype}{list(expected.shape[2:])}: "
                        "the replay was written for another environment or preset"
                    )
            for e, T in enumerate(lengths.tolist()):
                lane, start = replay.lane[e], replay.start[e]
                for name, f in members.items():
                    _read_into(
                        f, targets[name][lane, start : start + T + EPISODE_ARRAYS[name]], path
                    )
        finally:
            for f in members.values():
                f.close()
    replay.frames = torch.from_numpy(frames).to(replay.device)
    replay.open = {slot: e for e, slot in open_lane.items()}
    k = len(data["priorities"])
    replay.num_transitions = k
    replay.priorities, replay.ready = data["priorities"].copy(), data["ready"].copy()
    replay.episode_of, replay.position_of = data["episode_of"].copy(), data["position_of"].copy()
    episodes = replay.episode_of
    replay.ids[replay.lane[episodes], replay.start[episodes] + replay.position_of] = np.arange(k)
    replay.max_priority = float(data["max_priority"])
    replay.rng.bit_generator.state = json.loads(str(data["rng_state"]))
    return replay
