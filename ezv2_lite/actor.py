"""Self-play: N environments stepped together, every action chosen by a search (docs/algorithm.md §6).

Each agent step runs one batched `act`-mode search over the N current
observations, steps every environment with the chosen actions, and writes the
transitions to the replay together with the acting model's value of every
observation (which the replay turns into precalculated priorities). A finished
episode is closed in the replay (terminal or time limit) and the environment's
next episode opened at the following step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from .config import Config
from .envs import env_spec, make_vector_env
from .model.networks import EZModel, predict_values
from .replay import Replay
from .search import SearchResult, search


@dataclass
class ActorStep:
    """What one agent step of all environments produced (for logging and observers)."""

    result: SearchResult
    observations: np.ndarray
    rewards: np.ndarray
    finished_returns: list[float] = field(default_factory=list)
    finished_lengths: list[int] = field(default_factory=list)


class Actor:
    """Self-play over `config.train.num_envs` environments into a replay."""

    def __init__(self, config: Config, replay: Replay, seed: int):
        self.config, self.replay = config, replay
        self.num_envs = config.train.num_envs
        self.envs = make_vector_env(config.env, self.num_envs, "train", seed)
        self.action_names = env_spec(self.envs, config.env).action_names
        self.obs, _ = self.envs.reset()
        self.rng = np.random.default_rng([seed, 1])
        self.pending: list[tuple[Any, float, float] | None] = [None] * self.num_envs
        self.open = [False] * self.num_envs
        self.returns = np.zeros(self.num_envs)
        self.lengths = np.zeros(self.num_envs, np.int64)

    def step(self, model: EZModel, trace: bool = False) -> ActorStep:
        """One agent step in every environment."""
        result = search(
            model, self.obs, self.config, "act", self.rng, trace_root=0 if trace else None
        )
        if trace and self.action_names:
            assert result.trace is not None
            result.trace.action_names = list(self.action_names)
        for i in range(self.num_envs):  # the searched observation's value completes the last step
            value = float(result.network_value[i])
            pending = self.pending[i]
            if pending is not None:
                self.replay.add(i, *pending, self.obs[i], value)
                self.pending[i] = None
            elif not self.open[i]:
                self.replay.start_episode(i, self.obs[i], value)
                self.open[i] = True
        observations = self.obs
        next_obs, rewards, terminated, truncated, info = self.envs.step(result.action)
        raw = np.where(
            info.get("_raw_reward", np.zeros(self.num_envs, bool)),
            info.get("raw_reward", rewards),
            rewards,
        )
        self.returns += raw
        self.lengths += 1
        step = ActorStep(result, observations, np.asarray(rewards))
        done = np.flatnonzero(terminated | truncated)
        if len(done):
            final = np.stack([info["final_obs"][i] for i in done])
            final_values = predict_values(model, final)
        for i in range(self.num_envs):
            transition = (result.action[i], float(rewards[i]), float(raw[i]))
            if i in done:
                j = int(np.flatnonzero(done == i)[0])
                self.replay.add(i, *transition, final[j], float(final_values[j]))
                self.replay.end_episode(i, terminal=bool(terminated[i]))
                self.open[i] = False
                step.finished_returns.append(float(self.returns[i]))
                step.finished_lengths.append(int(self.lengths[i]))
                self.returns[i], self.lengths[i] = 0.0, 0
            else:
                self.pending[i] = transition
        self.obs = next_obs
        return step

    def pending_steps(self) -> dict[str, np.ndarray]:
        """The last step of each open episode, which the next search completes with the value of
        the observation it reached: slots [P], actions [P, ...], rewards and raw rewards [P],
        observations reached [P, *obs_shape]. A checkpoint keeps them (`store_pending_steps`)."""
        slots = [i for i in range(self.num_envs) if self.pending[i] is not None]
        actions, rewards, raws = (
            zip(*(self.pending[i] for i in slots), strict=True) if slots else ((), (), ())
        )
        return {
            "slots": np.asarray(slots, np.int64),
            "actions": np.asarray(actions),
            "rewards": np.asarray(rewards, np.float64),
            "raw_rewards": np.asarray(raws, np.float64),
            "observations": self.obs[slots],
        }

    def render(self) -> np.ndarray | None:
        """[H, W, 3] uint8: the first environment as a person sees it (None if it cannot draw)."""
        return cast(np.ndarray | None, self.envs.envs[0].render())  # (rgb_array, or None)

    def close(self) -> None:
        self.envs.close()


def store_pending_steps(replay: Replay, steps: dict[str, np.ndarray], model: EZModel) -> None:
    """Store the steps `Actor.pending_steps` returned, with `model`'s values of the observations
    they reached (a resumed run, whose environments cannot continue those episodes)."""
    if len(steps["slots"]) == 0:
        return
    values = predict_values(model, steps["observations"])
    for j, slot in enumerate(steps["slots"]):
        replay.add(
            int(slot),
            steps["actions"][j],
            float(steps["rewards"][j]),
            float(steps["raw_rewards"][j]),
            steps["observations"][j],
            float(values[j]),
        )
