"""Prioritised replay of whole episodes (paper §4.4; Part A §5; Part B §5.2).

The actor appends every agent step to its environment's open episode; the
replay keeps every episode whole, so an unroll window or an n-step target can
always read the true future (it only stops at a real terminal):

    episode e:  frames[0..T]   one frame per observation (images: the newest RGB
                               frame, uint8; vectors: the newest D numbers), stacked
                               back into observations when sampled
                actions[0..T-1], rewards[0..T-1] (clipped for training), raw_rewards,
                values[0..T]   the acting model's value of every observation
                terminal       whether the episode ended in a true terminal state

Transition k (global insertion order) is (episode, t): observation t, action t,
reward t. It becomes *sampleable* once the U + n steps after it are stored or its
episode has ended, and at that moment it receives its priority:

- `precalculated` (the paper's priority precalculation, default): |v_t - z_t| with
  v the acting model's value and z the n-step target built from the same values;
- `max`: the largest priority in the buffer (the released code's behaviour).

Sampling draws B distinct transitions with P(k) = p_k^alpha / sum p^alpha and
importance weights w = (N P(k))^-beta, normalised by the batch maximum and
clipped to [min_is_weight, 1]. `save`/`load` use a single `.npz` (no pickle).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import Config
from .envs import EnvSpec


def n_step_targets(rewards: np.ndarray, values: np.ndarray, terminal: bool, discount: float,
                   n: int, positions: np.ndarray | None = None) -> np.ndarray:
    """z_t = sum_{i<n'} gamma^i r_{t+i} + gamma^n' v_{t+n'} (Part B §4.3; Part A §2).

    `rewards` [T], `values` [T+1] (the value of every observation, including the
    last). n' = min(n, T - t): near the end the target bootstraps from the last
    observation, whose value counts as 0 if the episode ended in a terminal;
    a time limit is not a terminal. Returns z at `positions` (default: 0..T).
    """
    T = len(rewards)
    t = np.arange(T + 1) if positions is None else np.asarray(positions)
    v = np.asarray(values[: T + 1], np.float64).copy()
    if terminal:
        v[T] = 0.0
    r = np.append(np.asarray(rewards, np.float64), 0.0)  # r[T] = 0 pads the last position
    steps = np.minimum(n, T - t)
    z = discount ** steps * v[t + steps]
    for i in range(n):
        z += np.where(i < steps, discount ** i * r[np.minimum(t + i, T)], 0.0)
    return z


def precalculated_priorities(rewards: np.ndarray, values: np.ndarray, terminal: bool,
                             discount: float, n: int, min_priority: float,
                             positions: np.ndarray | None = None) -> np.ndarray:
    """|v_t - z_t| + min_priority: the paper's priority of new data (default: t = 0..T-1)."""
    t = np.arange(len(rewards)) if positions is None else np.asarray(positions)
    z = n_step_targets(rewards, values, terminal, discount, n, t)
    return np.abs(np.asarray(values, np.float64)[t] - z) + min_priority


class Episode:
    """The growing arrays of one episode (see the module docstring)."""

    def __init__(self, first_frame: np.ndarray, first_value: float, action_shape: tuple[int, ...],
                 action_dtype, capacity: int = 64):
        self.frames = np.empty((capacity + 1, *first_frame.shape), first_frame.dtype)
        self.values = np.empty(capacity + 1)
        self.actions = np.empty((capacity, *action_shape), action_dtype)
        self.rewards = np.empty(capacity)
        self.raw_rewards = np.empty(capacity)
        self.ids = np.empty(capacity, np.int64)  # global index of each transition in the replay
        self.length = 0        # T: transitions stored so far
        self.closed = False
        self.terminal = False
        self.frames[0], self.values[0] = first_frame, first_value

    def _grow(self) -> None:
        for name in ("frames", "values", "actions", "rewards", "raw_rewards", "ids"):
            old = getattr(self, name)
            new = np.empty((2 * len(old), *old.shape[1:]), old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def trim(self) -> None:
        """Drop the unused capacity of a closed episode (up to half of its arrays)."""
        for name in ("frames", "values", "actions", "rewards", "raw_rewards", "ids"):
            old = getattr(self, name)
            setattr(self, name, old[: self.length + (name in ("frames", "values"))].copy())

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes
                   for name in ("frames", "values", "actions", "rewards", "raw_rewards", "ids"))

    def append(self, action, reward: float, raw_reward: float, frame: np.ndarray, value: float) -> None:
        if self.length + 1 >= len(self.actions):
            self._grow()
        t = self.length
        self.actions[t], self.rewards[t], self.raw_rewards[t] = action, reward, raw_reward
        self.frames[t + 1], self.values[t + 1] = frame, value
        self.length += 1


@dataclass
class SampledBatch:
    """B windows of U+1 positions starting at the sampled transitions (Part B §10)."""

    indices: np.ndarray       # [B] global transition ids
    episodes: np.ndarray      # [B] episode ids
    positions: np.ndarray     # [B] t inside the episode
    weights: np.ndarray       # [B] importance weights in [min_is_weight, 1]
    observations: np.ndarray  # [B, U+1, *obs_shape] stacked observations at t..t+U (clamped)
    actions: np.ndarray       # [B, U] or [B, U, A]; past the end: random (discrete) / zeros
    mask: np.ndarray          # [B, U] 1 where action t+k exists (k = 0..U-1)
    exists: np.ndarray        # [B, U+1] 1 where observation t+k exists (k = 0..U)


class Replay:
    """Whole-episode prioritised replay for one run."""

    def __init__(self, config: Config, spec: EnvSpec, seed: int = 0):
        self.cfg, self.spec = config, spec
        self.unroll, self.td_steps = config.optim.unroll_steps, config.optim.td_steps
        self.discount = config.agent_discount
        self.stack = spec.frame_stack
        self.episodes: list[Episode] = []
        self.open: dict[int, int] = {}  # env slot -> episode id
        # per transition, in insertion order
        self.episode_of = np.zeros(0, np.int64)
        self.position_of = np.zeros(0, np.int64)
        self.priorities = np.zeros(0)
        self.ready = np.zeros(0, bool)
        self.num_transitions = 0
        self.max_priority = 1.0
        self.rng = np.random.default_rng(seed)
        self.listener = None
        """Called as listener(method, args) before each write (start_episode, add, end_episode):
        the reanalysis worker keeps its copy of the replay in step this way."""

    # ------------------------------------------------------------------ writing

    def _frame(self, observation: np.ndarray) -> np.ndarray:
        """The newest frame of a stacked observation."""
        per_frame = observation.shape[0] // self.stack
        return np.array(observation[-per_frame:])

    def start_episode(self, slot: int, observation: np.ndarray, value: float) -> None:
        """Open a new episode for environment `slot` with its first observation and value."""
        if self.listener is not None:
            self.listener("start_episode", (slot, observation, value))
        if slot in self.open:
            raise RuntimeError(f"environment {slot} already has an open episode")
        action_shape = () if self.spec.is_discrete else (self.spec.action_dim,)
        dtype = np.int64 if self.spec.is_discrete else np.float32
        first = self._frame(observation)
        episode = Episode(first, value, action_shape, dtype)
        per = first.shape[0]
        if self.stack > 1 and not np.array_equal(observation[:per], observation[-per:]):
            raise ValueError("the first observation of an episode must be one frame repeated "
                             "(Gymnasium's FrameStackObservation reset padding)")
        self.episodes.append(episode)
        self.open[slot] = len(self.episodes) - 1

    def add(self, slot: int, action, reward: float, raw_reward: float, next_observation: np.ndarray,
            next_value: float) -> None:
        """Append one agent step of environment `slot`'s open episode."""
        if self.listener is not None:
            self.listener("add", (slot, action, reward, raw_reward, next_observation, next_value))
        e = self.open[slot]
        episode = self.episodes[e]
        episode.append(action, reward, raw_reward, self._frame(next_observation), next_value)
        episode.ids[episode.length - 1] = self._register(e, episode.length - 1)
        # transitions whose U + n steps of future are now stored become sampleable
        matured = episode.length - 1 - (self.unroll + self.td_steps)
        if matured >= 0:
            self._make_ready(e, matured, matured + 1)

    def end_episode(self, slot: int, terminal: bool) -> None:
        """Close `slot`'s episode: `terminal` if it ended in a true terminal (not a time limit)."""
        if self.listener is not None:
            self.listener("end_episode", (slot, terminal))
        e = self.open.pop(slot)
        episode = self.episodes[e]
        episode.closed, episode.terminal = True, bool(terminal)
        episode.trim()
        first_unready = max(episode.length - (self.unroll + self.td_steps), 0)
        self._make_ready(e, first_unready, episode.length)

    def end_open_episodes(self) -> None:
        """End every open episode as a time limit (on resume: environments cannot be restored)."""
        for slot in list(self.open):
            self.end_episode(slot, terminal=False)

    def _register(self, e: int, t: int) -> int:
        """Give transition t of episode e the next global index (environments interleave)."""
        k = self.num_transitions
        if k >= len(self.priorities):
            size = max(1024, 2 * len(self.priorities))
            for name, dtype in (("episode_of", np.int64), ("position_of", np.int64),
                                ("priorities", np.float64), ("ready", bool)):
                old = getattr(self, name)
                new = np.zeros(size, dtype)
                new[: len(old)] = old
                setattr(self, name, new)
        self.episode_of[k], self.position_of[k] = e, t
        self.num_transitions += 1
        return k

    def _make_ready(self, e: int, start: int, stop: int) -> None:
        if stop <= start:
            return
        episode = self.episodes[e]
        ids = episode.ids[start:stop]
        if self.cfg.replay.new_priority == "precalculated":
            T = episode.length
            prios = precalculated_priorities(episode.rewards[:T], episode.values[:T + 1],
                                             episode.terminal and episode.closed, self.discount,
                                             self.td_steps, self.cfg.replay.min_priority,
                                             np.arange(start, stop))
        else:
            prios = np.full(stop - start, self.max_priority)
        self.priorities[ids] = prios
        self.ready[ids] = True
        self.max_priority = max(self.max_priority, float(prios.max()))

    def update_priorities(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        """New priorities from the learner (|V(s_t) - target_t| + min_priority)."""
        self.priorities[indices] = priorities
        self.max_priority = max(self.max_priority, float(np.max(priorities)))

    # ------------------------------------------------------------------ reading

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored episodes and the per-transition index arrays."""
        index = sum(getattr(self, name).nbytes
                    for name in ("episode_of", "position_of", "priorities", "ready"))
        return sum(e.nbytes for e in self.episodes) + index

    @property
    def num_ready(self) -> int:
        return int(self.ready[: self.num_transitions].sum())

    def stacked_observation(self, e: int, t: int) -> np.ndarray:
        """The observation at position t of episode e, its frame stack rebuilt: [*obs_shape]."""
        return self.stacked_observations(e, np.array([t]))[0]

    def stacked_observations(self, e: int, positions: np.ndarray) -> np.ndarray:
        """Observations at `positions` [P] of episode e: [P, *obs_shape].

        Observation t stacks frames t-S+1..t (frame-major); indices before 0 repeat
        frame 0, as Gymnasium's reset padding does.
        """
        frames = self.episodes[e].frames
        idx = np.maximum(positions[:, None] + np.arange(1 - self.stack, 1), 0)  # [P, S]
        stacked = frames[idx]                                                 # [P, S, C, ...]
        return stacked.reshape(len(positions), -1, *stacked.shape[3:])

    def sample(self, batch_size: int) -> SampledBatch:
        """B distinct sampleable transitions by priority, with their U+1-step windows."""
        n = self.num_transitions
        ready = self.ready[:n]
        count = int(ready.sum())
        if count < batch_size:
            raise ValueError(f"replay holds {count} sampleable transitions, fewer than the batch "
                             f"size {batch_size}; collect more before sampling")
        alpha, beta = self.cfg.replay.alpha, self.cfg.replay.beta
        scaled = np.where(ready, self.priorities[:n], 0.0) ** alpha
        probs = scaled / scaled.sum()
        indices = self.rng.choice(n, size=batch_size, replace=False, p=probs)
        weights = (count * probs[indices]) ** (-beta)
        weights = np.clip(weights / weights.max(), self.cfg.replay.min_is_weight, 1.0)
        return self.windows(indices, weights)

    def windows(self, indices: np.ndarray, weights: np.ndarray | None = None) -> SampledBatch:
        """The U+1-step windows of given transitions (what `sample` returns)."""
        U, spec = self.unroll, self.spec
        B = len(indices)
        eps, pos = self.episode_of[indices], self.position_of[indices]
        obs = np.empty((B, U + 1, *spec.obs_shape), np.uint8 if spec.is_image else np.float32)
        if spec.is_discrete:
            actions = self.rng.integers(spec.num_actions, size=(B, U))
        else:
            actions = np.zeros((B, U, spec.action_dim), np.float32)
        mask = np.zeros((B, U), np.float32)
        exists = np.zeros((B, U + 1), np.float32)
        for i, (e, t) in enumerate(zip(eps, pos)):
            episode = self.episodes[e]
            T = episode.length
            window = t + np.arange(U + 1)
            obs[i] = self.stacked_observations(e, np.minimum(window, T))
            exists[i] = window <= T
            steps = max(0, min(U, T - t))
            actions[i, :steps] = episode.actions[t:t + steps]
            mask[i, :steps] = 1.0
        return SampledBatch(indices, eps, pos, np.ones(B) if weights is None else weights, obs,
                            actions, mask, exists)

    # ------------------------------------------------------------------ save / load

    def _bookkeeping(self) -> dict[str, np.ndarray]:
        """The replay's arrays other than the episodes' contents (small)."""
        return {
            "lengths": np.array([ep.length for ep in self.episodes], np.int64),
            "closed": np.array([ep.closed for ep in self.episodes], bool),
            "terminal": np.array([ep.terminal for ep in self.episodes], bool),
            "open_slots": np.array(sorted(self.open), np.int64),
            "open_episodes": np.array([self.open[s] for s in sorted(self.open)], np.int64),
            "priorities": self.priorities[: self.num_transitions],
            "ready": self.ready[: self.num_transitions],
            "episode_of": self.episode_of[: self.num_transitions],
            "position_of": self.position_of[: self.num_transitions],
            "max_priority": np.array(self.max_priority),
            "rng_state": np.array(json.dumps(self.rng.bit_generator.state)),
        }

    def _episode_parts(self, name: str) -> list[np.ndarray]:
        """Each episode's stored part of one of EPISODE_ARRAYS, in episode order."""
        extra = EPISODE_ARRAYS[name]
        return [getattr(ep, name)[: ep.length + extra] for ep in self.episodes]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every array of the replay, flat (the episodes' arrays concatenated); no Python objects."""
        arrays = self._bookkeeping()
        for name in EPISODE_ARRAYS:
            arrays[name] = np.concatenate(self._episode_parts(name)) if self.episodes else np.zeros(0)
        return arrays

    def save(self, path: str | Path) -> None:
        """Write `state_dict()` as an `.npz` (np.savez's layout), streaming each flat array episode
        by episode, so that saving never holds a second copy of the frames (2.8 GB for Atari 100k)."""
        with zipfile.ZipFile(path, "w", allowZip64=True) as archive:
            for name, array in self._bookkeeping().items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, array, allow_pickle=False)
            for name in EPISODE_ARRAYS:
                parts = self._episode_parts(name) or [np.zeros(0)]
                header = {"descr": np.lib.format.dtype_to_descr(parts[0].dtype), "fortran_order": False,
                          "shape": (sum(len(part) for part in parts), *parts[0].shape[1:])}
                with archive.open(f"{name}.npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array_header_2_0(f, header)
                    for part in parts:
                        f.write(np.ascontiguousarray(part).data)

    @classmethod
    def load(cls, path: str | Path, config: Config, spec: EnvSpec) -> Replay:
        """Read a replay written by `save` (no pickle); each episode's arrays are read straight
        into place, so loading never holds the flat arrays as well."""
        replay = cls(config, spec)
        with np.load(path, allow_pickle=False) as npz:
            data = {name: npz[name] for name in npz.files if name not in EPISODE_ARRAYS}
        lengths = data["lengths"]
        with zipfile.ZipFile(path) as archive:
            members = {name: archive.open(f"{name}.npy") for name in EPISODE_ARRAYS}
            try:
                headers = {name: _read_npy_header(f) for name, f in members.items()}
                (frame_shape, frame_dtype), (action_shape, action_dtype) = headers["frames"], headers["actions"]
                for i, T in enumerate(lengths.tolist()):
                    episode = Episode(np.zeros(frame_shape, frame_dtype), 0.0, action_shape, action_dtype,
                                      capacity=max(T, 1))
                    for name, f in members.items():
                        _read_into(f, getattr(episode, name)[: T + EPISODE_ARRAYS[name]], path)
                    episode.length = T
                    episode.closed, episode.terminal = bool(data["closed"][i]), bool(data["terminal"][i])
                    replay.episodes.append(episode)
            finally:
                for f in members.values():
                    f.close()
        replay.open = dict(zip(data["open_slots"].tolist(), data["open_episodes"].tolist()))
        n = len(data["priorities"])
        replay.num_transitions = n
        replay.priorities, replay.ready = data["priorities"].copy(), data["ready"].copy()
        replay.episode_of, replay.position_of = data["episode_of"].copy(), data["position_of"].copy()
        for k, (e, t) in enumerate(zip(replay.episode_of, replay.position_of)):
            replay.episodes[e].ids[t] = k
        replay.max_priority = float(data["max_priority"])
        replay.rng.bit_generator.state = json.loads(str(data["rng_state"]))
        return replay


EPISODE_ARRAYS = {"frames": 1, "values": 1, "actions": 0, "rewards": 0, "raw_rewards": 0}
"""The per-episode arrays a replay file stores flat, with how many entries beyond T each has."""


def _read_npy_header(f) -> tuple[tuple[int, ...], np.dtype]:
    """The shape of one row and the dtype of the .npy stream `f`, leaving `f` at its data."""
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read(f)
    if fortran_order:
        raise ValueError("replay file: Fortran-ordered arrays are not written by Replay.save")
    return tuple(shape[1:]), dtype


def _read_into(f, target: np.ndarray, path) -> None:
    if target.nbytes == 0:
        return
    view = memoryview(target).cast("B")
    if f.readinto(view) != view.nbytes:
        raise ValueError(f"{path}: the replay file ends early (truncated or not written by Replay.save)")


def random_policy_replay(config: Config, transitions: int, seed: int = 0,
                         replay: Replay | None = None) -> tuple[Replay, EnvSpec]:
    """A replay filled by a uniformly random policy in the config's environment (for tests,
    benchmarks and notebooks); stored values are 0. `replay`: fill this one instead of a new one."""
    from .envs import env_spec, make_env

    env = make_env(config.env, "train", seed)
    spec = env_spec(env, config.env)
    replay = Replay(config, spec, seed=seed) if replay is None else replay
    obs, _ = env.reset()
    replay.start_episode(0, obs, 0.0)
    for _ in range(transitions):
        action = env.action_space.sample()
        obs, reward, terminated, truncated, _ = env.step(action)
        replay.add(0, action, float(reward), float(reward), obs, 0.0)
        if terminated or truncated:
            replay.end_episode(0, bool(terminated))
            obs, _ = env.reset()
            replay.start_episode(0, obs, 0.0)
    replay.end_episode(0, terminal=False)
    env.close()
    return replay, spec
