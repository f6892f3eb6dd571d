"""Small Gymnasium wrappers for the benchmark protocols (docs/algorithm.md §6).

Gymnasium already provides what it can (`AtariPreprocessing` for no-op starts,
frame skip with max-pooling and resizing; `FrameStackObservation`; `TimeLimit`;
`RescaleAction`). The wrappers here add the few protocol pieces it does not:
life loss as a training-only terminal that keeps the game going, sign-clipped
training rewards that keep the raw reward, channel-first frame stacks, and
seeding through the factory.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class EpisodicLife(gym.Wrapper):
    """Atari training mode: losing a life ends the episode, the game itself goes on.

    `step` reports `terminated=True` when the number of lives drops. The next
    `reset` then continues the same game with one no-op step (it resets the
    emulator only after a real game over), as in DQN's and EZ-V2's protocol.
    `info["game_over"]` tells the two kinds of terminal apart.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self._lives = 0
        self._game_over = True

    def _ale_lives(self) -> int:
        game: Any = self.env.unwrapped  # an ALE AtariEnv (typed as a plain gym.Env)
        return int(game.ale.lives())

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._game_over = bool(terminated or truncated)
        lives = self._ale_lives()
        if 0 < lives < self._lives:
            terminated = True
        self._lives = lives
        info = dict(info, game_over=self._game_over)
        return obs, reward, terminated, truncated, info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if self._game_over or seed is not None:
            obs, info = self.env.reset(seed=seed, options=options)
        else:
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                obs, info = self.env.reset(options=options)
        self._game_over = False
        self._lives = self._ale_lives()
        return obs, info


class ClipReward(gym.Wrapper):
    """Training reward = sign(raw reward); the raw reward stays in `info["raw_reward"]`."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info, raw_reward=float(reward))
        return obs, float(np.sign(reward)), terminated, truncated, info


class StackFrames(gym.ObservationWrapper):
    """Stack the last `n` observations into one array, images channel-first.

    Images (H, W, C) uint8 become (n*C, H, W), frame-major (the oldest frame's
    channels first, RGB inside a frame). Vectors (D,) become float32 (n*D,).
    After a reset the stack holds n copies of the first observation.
    """

    def __init__(self, env: gym.Env, n: int):
        space = env.observation_space
        assert isinstance(space, gym.spaces.Box)  # (every suite observes a Box)
        self.is_image = len(space.shape) == 3
        stacked = gym.wrappers.FrameStackObservation(env, n, padding_type="reset") if n > 1 else env
        super().__init__(stacked)
        self.n = n
        if self.is_image:
            h, w, c = space.shape
            self.observation_space = gym.spaces.Box(0, 255, (n * c, h, w), np.uint8)
        else:
            (d,) = space.shape
            low = np.tile(np.asarray(space.low, np.float32).ravel(), n)
            high = np.tile(np.asarray(space.high, np.float32).ravel(), n)
            self.observation_space = gym.spaces.Box(low, high, (n * d,), np.float32)

    def observation(self, observation):
        obs = np.asarray(observation)
        if self.n == 1:
            obs = obs[None]
        if self.is_image:
            n, h, w, c = obs.shape
            return np.ascontiguousarray(obs.transpose(0, 3, 1, 2).reshape(n * c, h, w))
        return obs.reshape(-1).astype(np.float32)


class SeedOnFirstReset(gym.Wrapper):
    """Use the factory's seed for the first reset that does not pass one (and for the action space)."""

    def __init__(self, env: gym.Env, seed: int | None):
        super().__init__(env)
        self._pending_seed = seed
        if seed is not None:
            self.action_space.seed(seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is None:
            seed, self._pending_seed = self._pending_seed, None
        else:
            self._pending_seed = None
        return self.env.reset(seed=seed, options=options)
