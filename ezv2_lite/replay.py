"""Prioritised replay of whole episodes (paper §4.4; docs/algorithm.md §5.3).

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
clipped to [min_is_weight, 1]. `replay_file.py` saves and loads a replay as one `.npz`
(no pickle).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .config import Config
from .envs import EnvSpec
from .returns import episode_n_step_returns, priority


@dataclass
class Episode:
    """A view of one stored episode (see the module docstring); arrays are views into the lanes."""

    frames: torch.Tensor  # [T+1, *frame_shape] on the replay's device
    values: np.ndarray  # [T+1]
    actions: np.ndarray  # [T] or [T, A]
    rewards: np.ndarray  # [T]
    raw_rewards: np.ndarray  # [T]
    length: int  # T
    closed: bool
    terminal: bool


@dataclass
class SampledBatch:
    """B windows of U+1 positions starting at the sampled transitions (docs/algorithm.md §5.3)."""

    indices: np.ndarray  # [B] global transition ids
    episodes: np.ndarray  # [B] episode ids
    positions: np.ndarray  # [B] t inside the episode
    weights: np.ndarray  # [B] importance weights in [min_is_weight, 1]
    observations: torch.Tensor  # [B, U+1, *obs_shape] stacked observations at t..t+U (clamped),
    #                             uint8 (images) or float32, on the replay's batch device
    actions: np.ndarray  # [B, U] or [B, U, A]; past the end: random (discrete) / zeros
    mask: np.ndarray  # [B, U] 1 where action t+k exists (k = 0..U-1)
    exists: np.ndarray  # [B, U+1] 1 where observation t+k exists (k = 0..U)


def indexed(device: str | torch.device) -> torch.device:
    """The device with its index ("cuda" -> "cuda:0"), so that it compares equal to a tensor's."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def gather_rows(table: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
    """table[rows] for a [N, ...] tensor and [R] row numbers -> [R, ...], on the table's device.
    On the CPU through NumPy: its copies of whole rows are several times faster than torch's
    indexing of uint8 frames (docs/performance.md)."""
    if table.device.type == "cpu":
        return torch.from_numpy(table.numpy()[rows])
    return table.index_select(0, torch.as_tensor(rows, device=table.device))


def planned_lane_capacity(config: Config, spec: EnvSpec) -> int:
    """Offsets per lane that a run of the configured budget needs: its agent steps per
    environment, and its episodes' first frames (up to one per 16 steps)."""
    per_lane = config.train.total_env_steps // (spec.action_repeat * config.train.num_envs)
    return per_lane + per_lane // 16 + 64


def frames_device(config: Config, spec: EnvSpec, model_device: torch.device) -> torch.device:
    """Where a run keeps its replay's frames: `runtime.replay_device`, or with "auto" the model's GPU
    when the run's planned frames take at most half of its free memory, else the CPU."""
    if config.runtime.replay_device != "auto":
        return torch.device(config.runtime.replay_device)
    if model_device.type != "cuda":
        return torch.device("cpu")
    frame_bytes = np.prod(spec.obs_shape) // spec.frame_stack * (1 if spec.is_image else 4)
    planned = config.train.num_envs * planned_lane_capacity(config, spec) * frame_bytes
    free, _ = torch.cuda.mem_get_info(model_device)
    return model_device if planned <= free / 2 else torch.device("cpu")


LANE_ARRAYS = ("values", "actions", "rewards", "raw_rewards", "ids")
"""The per-step arrays of the lanes besides the frames (NumPy, on the host)."""
EPISODE_FIELDS = ("lane", "start", "length", "closed", "terminal")
"""Where each episode lies in the lanes, and how it ended."""


class Replay:
    """Whole-episode prioritised replay for one run.

    Storage: environment slot s writes its episodes one after another into lane s,
    so the T+1 steps of an episode are adjacent: position t of episode e is at
    (lane[e], start[e] + t) in every lane array. A window, a frame stack or an
    n-step return is then a range of offsets clamped to the episode, which the
    reading methods compute for a whole batch at once: a batch is gathered by
    index, with no loop over its rows.
    """

    def __init__(
        self,
        config: Config,
        spec: EnvSpec,
        seed: int = 0,
        device: str | torch.device = "cpu",
        batch_device: str | torch.device | None = None,
    ):
        """`device`: where the frames live; `batch_device`: where sampled observations are
        delivered (the model's device; default `device`). Frames kept on the CPU for a GPU
        model travel in one copy per batch through a reused pinned buffer."""
        self.cfg, self.spec = config, spec
        self.unroll, self.td_steps = config.optim.unroll_steps, config.optim.td_steps
        self.discount = config.agent_discount
        self.stack = spec.frame_stack
        self._staging: dict = {}  # (shape, dtype) -> (pinned buffer, CUDA event of its last copy)
        # the lanes: [L, capacity, ...]; frames on `device` (placed by `to` below), the rest on the host
        frame_shape = (spec.obs_shape[0] // self.stack, *spec.obs_shape[1:])
        action_shape = () if spec.is_discrete else (spec.action_dim,)
        self.frames = torch.zeros(
            (0, 0, *frame_shape), dtype=torch.uint8 if spec.is_image else torch.float32
        )
        self.values = np.zeros((0, 0))
        self.actions = np.zeros((0, 0, *action_shape), np.int64 if spec.is_discrete else np.float32)
        self.rewards = np.zeros((0, 0))
        self.raw_rewards = np.zeros((0, 0))
        self.ids = np.zeros((0, 0), np.int64)  # the transition id of each stored step
        self.used = np.zeros(0, np.int64)  # [L] offsets written in each lane
        self.planned_capacity = planned_lane_capacity(config, spec)
        """The lanes grow by doubling up to this, then by 1/16 of it at a time."""
        # per episode, in start order
        self.lane = np.zeros(0, np.int64)
        self.start = np.zeros(0, np.int64)
        self.length = np.zeros(0, np.int64)
        self.closed = np.zeros(0, bool)
        self.terminal = np.zeros(0, bool)
        self.num_episodes = 0
        self.open: dict[int, int] = {}  # env slot -> episode id
        # per transition, in insertion order
        self.episode_of = np.zeros(0, np.int64)
        self.position_of = np.zeros(0, np.int64)
        self.priorities = np.zeros(0)
        self.ready = np.zeros(0, bool)
        self.num_transitions = 0
        self.max_priority = 1.0
        self.rng = np.random.default_rng(seed)
        self.listener: Callable[[str, tuple], None] | None = None
        """Called as listener(method, args) before each write (start_episode, add, end_episode):
        the reanalysis worker keeps its copy of the replay in step this way."""
        self.to(device, batch_device)

    # ------------------------------------------------------------------ writing

    def _frame(self, observation: np.ndarray) -> torch.Tensor:
        """The newest frame of a stacked observation."""
        per_frame = observation.shape[0] // self.stack
        return torch.as_tensor(np.array(observation[-per_frame:]))

    def _reserve(self, lane: int, offset: int) -> None:
        """Make (lane, offset) exist in every lane array, growing them if needed."""
        lanes, capacity = self.values.shape
        if lane < lanes and offset < capacity:
            return
        new_lanes = max(lanes, lane + 1)
        new_capacity, planned = capacity, self.planned_capacity
        if offset >= capacity and offset < planned:  # double, up to the run's planned size
            new_capacity = min(max(2 * capacity, offset + 1, 64), planned)
        elif offset >= capacity:  # past the plan: a sixteenth more at a time
            new_capacity = max(offset + 1, capacity + planned // 16 + 64)
        for name in LANE_ARRAYS:
            old = getattr(self, name)
            new = np.zeros((new_lanes, new_capacity, *old.shape[2:]), old.dtype)
            new[:lanes, :capacity] = old
            setattr(self, name, new)
        frames = self.frames.new_zeros((new_lanes, new_capacity, *self.frames.shape[2:]))
        frames[:lanes, :capacity] = self.frames
        self.frames = frames
        self.used = np.concatenate([self.used, np.zeros(new_lanes - lanes, np.int64)])

    def _new_episode(self, lane: int, start: int) -> int:
        e = self.num_episodes
        if e >= len(self.lane):
            size = max(64, 2 * len(self.lane))
            for name in EPISODE_FIELDS:
                old = getattr(self, name)
                new = np.zeros(size, old.dtype)
                new[: len(old)] = old
                setattr(self, name, new)
        self.lane[e], self.start[e], self.length[e] = lane, start, 0
        self.closed[e] = self.terminal[e] = False
        self.num_episodes += 1
        return e

    def start_episode(self, slot: int, observation: np.ndarray, value: float) -> None:
        """Open a new episode for environment `slot` with its first observation and value."""
        if self.listener is not None:
            self.listener("start_episode", (slot, observation, value))
        if slot in self.open:
            raise RuntimeError(f"environment {slot} already has an open episode")
        first = self._frame(observation)
        per = first.shape[0]
        if self.stack > 1 and not np.array_equal(observation[:per], observation[-per:]):
            raise ValueError(
                "the first observation of an episode must be one frame repeated "
                "(Gymnasium's FrameStackObservation reset padding)"
            )
        offset = int(self.used[slot]) if slot < len(self.used) else 0
        self._reserve(slot, offset)
        self.frames[slot, offset], self.values[slot, offset] = first, value
        self.used[slot] = offset + 1
        self.open[slot] = self._new_episode(slot, offset)

    def add(
        self,
        slot: int,
        action,
        reward: float,
        raw_reward: float,
        next_observation: np.ndarray,
        next_value: float,
    ) -> None:
        """Append one agent step of environment `slot`'s open episode."""
        if self.listener is not None:
            self.listener("add", (slot, action, reward, raw_reward, next_observation, next_value))
        e = self.open[slot]
        t = int(self.length[e])
        offset = int(self.start[e]) + t
        self._reserve(slot, offset + 1)
        self.actions[slot, offset], self.rewards[slot, offset] = action, reward
        self.raw_rewards[slot, offset] = raw_reward
        self.ids[slot, offset] = self._register(e, t)
        self.frames[slot, offset + 1] = self._frame(next_observation)
        self.values[slot, offset + 1] = next_value
        self.length[e] = t + 1
        self.used[slot] = offset + 2
        # transitions whose U + n steps of future are now stored become sampleable
        matured = t - (self.unroll + self.td_steps)
        if matured >= 0:
            self._make_ready(e, matured, matured + 1)

    def end_episode(self, slot: int, terminal: bool) -> None:
        """Close `slot`'s episode: `terminal` if it ended in a true terminal (not a time limit)."""
        if self.listener is not None:
            self.listener("end_episode", (slot, terminal))
        e = self.open.pop(slot)
        self.closed[e], self.terminal[e] = True, bool(terminal)
        first_unready = max(int(self.length[e]) - (self.unroll + self.td_steps), 0)
        self._make_ready(e, first_unready, int(self.length[e]))

    def end_open_episodes(self) -> None:
        """End every open episode as a time limit (on resume: environments cannot be restored)."""
        for slot in list(self.open):
            self.end_episode(slot, terminal=False)

    def _register(self, e: int, t: int) -> int:
        """Give transition t of episode e the next global index (environments interleave)."""
        k = self.num_transitions
        if k >= len(self.priorities):
            size = max(1024, 2 * len(self.priorities))
            for name, dtype in (
                ("episode_of", np.int64),
                ("position_of", np.int64),
                ("priorities", np.float64),
                ("ready", bool),
            ):
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
        episode = self.episode(e)
        ids = self.ids[self.lane[e], self.start[e] + start : self.start[e] + stop]
        if self.cfg.replay.new_priority == "precalculated":
            t = np.arange(start, stop)
            z = episode_n_step_returns(
                episode.rewards,
                episode.values,
                episode.terminal and episode.closed,
                self.discount,
                self.td_steps,
                t,
            )
            prios = priority(episode.values[t], z, self.cfg.replay.min_priority)
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
        """Bytes of the stored steps (frames and the other lane arrays, at the offsets written)
        and of the per-transition and per-episode index arrays."""
        frame = self.frames[0, 0].numel() * self.frames.element_size() if self.frames.numel() else 0
        per_offset = frame + sum(
            getattr(self, name)[0, 0].nbytes for name in LANE_ARRAYS if getattr(self, name).size
        )
        index = sum(
            getattr(self, name).nbytes
            for name in ("episode_of", "position_of", "priorities", "ready", *EPISODE_FIELDS)
        )
        return int(self.used.sum()) * per_offset + index

    @property
    def allocated_nbytes(self) -> int:
        """Bytes the lanes hold, spare capacity included (at most the run's budget and 1/16)."""
        return self.frames.numel() * self.frames.element_size() + sum(
            getattr(self, name).nbytes for name in LANE_ARRAYS
        )

    @property
    def num_ready(self) -> int:
        return int(self.ready[: self.num_transitions].sum())

    def episode(self, e: int) -> Episode:
        """Episode e's stored steps, as views into the lanes."""
        lane, start, T = int(self.lane[e]), int(self.start[e]), int(self.length[e])
        steps = slice(start, start + T)
        return Episode(
            self.frames[lane, start : start + T + 1],
            self.values[lane, start : start + T + 1],
            self.actions[lane, steps],
            self.rewards[lane, steps],
            self.raw_rewards[lane, steps],
            T,
            bool(self.closed[e]),
            bool(self.terminal[e]),
        )

    @property
    def episodes(self) -> list[Episode]:
        """Every stored episode, in start order (views; see `episode`)."""
        return [self.episode(e) for e in range(self.num_episodes)]

    def stacked_observation(self, e: int, t: int) -> torch.Tensor:
        """The observation at position t of episode e, its frame stack rebuilt: [*obs_shape]."""
        return self.stacked_observations(np.array([e]), np.array([t]))[0]

    def stacked_observations(self, episodes: np.ndarray, positions: np.ndarray) -> torch.Tensor:
        """Observations at `positions` [...] of `episodes` [...] (same shape, or broadcastable):
        [..., *obs_shape] on the batch device, gathered in one indexing operation.

        Observation t stacks frames t-S+1..t (frame-major); positions before 0 repeat
        frame 0, as Gymnasium's reset padding does.
        """
        episodes, positions = np.broadcast_arrays(episodes, positions)
        start = self.start[episodes][..., None]
        # [..., S]
        offsets = start + np.maximum(positions[..., None] + np.arange(1 - self.stack, 1), 0)
        rows = self.lane[episodes][..., None] * self.frames.shape[1] + offsets  # [..., S]
        frames = gather_rows(self.frames.flatten(0, 1), rows.ravel())  # [... * S, C, ...]
        stacked = frames.view(*offsets.shape[:-1], -1, *self.frames.shape[3:])  # [..., S*C, ...]
        return self.deliver(stacked)

    def to(
        self, device: str | torch.device, batch_device: str | torch.device | None = None
    ) -> Replay:
        """Move the frames to `device`; batches are then delivered to `batch_device` (default:
        `device`). Returns the replay."""
        self.device = indexed(device)
        self.batch_device = self.device if batch_device is None else indexed(batch_device)
        self.frames = self.frames.to(self.device)
        return self

    def deliver(self, x: torch.Tensor) -> torch.Tensor:
        """`x` on the batch device. From the CPU to a GPU: through a pinned buffer kept for this
        shape, from which the copy to the GPU does not block the host (before the buffer is
        refilled, the host waits for its previous copy to have left)."""
        if x.device == self.batch_device:
            return x
        if self.batch_device.type != "cuda":
            return x.to(self.batch_device)
        key = (tuple(x.shape), x.dtype)
        buffer, last_copy = self._staging.get(key) or (
            torch.empty(x.shape, dtype=x.dtype, pin_memory=True),
            None,
        )
        if last_copy is not None:
            last_copy.synchronize()
        buffer.copy_(x)
        out = buffer.to(self.batch_device, non_blocking=True)
        copied = torch.cuda.Event()
        copied.record(torch.cuda.current_stream(self.batch_device))
        self._staging[key] = (buffer, copied)
        return out

    def lane_steps(
        self, episodes: np.ndarray, positions: np.ndarray, name: str, fill=0
    ) -> np.ndarray:
        """The lane array `name` (actions, rewards, values, ...) at `positions` [...] of
        `episodes` [...]; `fill` outside the episode: past T - 1 for the T actions and rewards,
        past T for the T + 1 values."""
        episodes, positions = np.broadcast_arrays(episodes, positions)
        per_observation = 1 if name == "values" else 0  # values has one entry more
        last = self.length[episodes] - 1 + per_observation
        inside = (positions >= 0) & (positions <= last)
        offsets = self.start[episodes] + np.clip(positions, 0, np.maximum(last, 0))
        out = getattr(self, name)[self.lane[episodes], offsets]
        inside = inside.reshape(inside.shape + (1,) * (out.ndim - inside.ndim))
        return np.where(inside, out, fill).astype(out.dtype)

    def sample(self, batch_size: int) -> SampledBatch:
        """B distinct sampleable transitions by priority, with their U+1-step windows."""
        n = self.num_transitions
        ready = self.ready[:n]
        count = int(ready.sum())
        if count < batch_size:
            raise ValueError(
                f"replay holds {count} sampleable transitions, fewer than the batch "
                f"size {batch_size}; collect more before sampling"
            )
        alpha, beta = self.cfg.replay.alpha, self.cfg.replay.beta
        # (alpha = 0: uniform over the ready)
        scaled = np.where(ready, self.priorities[:n] ** alpha, 0.0)
        probs = scaled / scaled.sum()
        indices = self.rng.choice(n, size=batch_size, replace=False, p=probs)
        weights = (count * probs[indices]) ** (-beta)
        weights = np.clip(weights / weights.max(), self.cfg.replay.min_is_weight, 1.0)
        return self.windows(indices, weights)

    def windows(self, indices: np.ndarray, weights: np.ndarray | None = None) -> SampledBatch:
        """The U+1-step windows of given transitions (what `sample` returns), gathered by index."""
        U, spec = self.unroll, self.spec
        B = len(indices)
        eps, pos = self.episode_of[indices], self.position_of[indices]
        window = pos[:, None] + np.arange(U + 1)  # [B, U+1] positions t..t+U
        T = self.length[eps][:, None]
        exists = (window <= T).astype(np.float32)
        mask = (window[:, :U] < T).astype(np.float32)
        observations = self.stacked_observations(eps[:, None], np.minimum(window, T))
        if spec.is_discrete:  # past the end: random actions (drawn for every row, as always)
            assert spec.num_actions is not None
            padding = self.rng.integers(spec.num_actions, size=(B, U))
            actions = np.where(
                mask > 0, self.lane_steps(eps[:, None], window[:, :U], "actions"), padding
            )
        else:
            actions = self.lane_steps(eps[:, None], window[:, :U], "actions")
        return SampledBatch(
            indices,
            eps,
            pos,
            np.ones(B) if weights is None else weights,
            observations,
            actions,
            mask,
            exists,
        )


def random_policy_replay(
    config: Config, transitions: int, seed: int = 0, replay: Replay | None = None
) -> tuple[Replay, EnvSpec]:
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
