"""DeepMind Control through dm_control directly (docs/algorithm.md §6).

`DMCEnv` is a Gymnasium environment over one `domain-task`:
- action repeat (2 by default) sums the rewards of the repeated frames;
- an episode is dm_control's 1000 frames, i.e. 500 agent steps, ending in
  `truncated` (time limit) unless the task itself terminates;
- state observations are dm_control's observation dict flattened to float32
  in the order of the task's observation spec (the same at every reset);
- pixel observations are RGB (image_size x image_size, uint8) rendered
  headless by MuJoCo (EGL on Linux) from camera 2 for quadruped, else 0,
  with multisampling and shadows off (about 7x faster on a CPU renderer);
- `render()` draws the same camera at 240 x 240 for people (dashboards, videos).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import gymnasium as gym
import numpy as np

from ..config import EnvConfig
from .wrappers import StackFrames

if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
    os.environ.setdefault("MUJOCO_GL", "egl")


def parse_task(name: str) -> tuple[str, str]:
    """`walker-walk` -> ("walker", "walk"); `ball_in_cup-catch` -> ("ball_in_cup", "catch")."""
    from dm_control import suite

    domain, _, task = name.partition("-")
    task = task.replace("-", "_")
    if (domain, task) not in suite.ALL_TASKS:
        examples = "walker-walk, cartpole-swingup, cheetah-run, hopper-hop"
        raise ValueError(
            f"unknown DMC task {name!r}: use domain-task, e.g. {examples} "
            f"({len(suite.ALL_TASKS)} tasks in dm_control.suite.ALL_TASKS)"
        )
    return domain, task


class DMCEnv(gym.Env):
    """One DeepMind Control task as a Gymnasium environment (state or pixels, action repeat)."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        name: str,
        pixels: bool = False,
        image_size: int = 96,
        camera: int = 0,
        action_repeat: int = 2,
    ):
        from dm_control import suite

        domain, task = parse_task(name)
        self._env = suite.load(domain, task)
        self.pixels, self.image_size, self.camera = pixels, image_size, camera
        self.action_repeat = action_repeat
        self.render_mode = "rgb_array"
        # physics frames/s
        self.metadata = {
            **self.metadata,
            "render_fps": 1 / self._env.control_timestep(),
        }
        spec = self._env.action_spec()
        self.action_space = gym.spaces.Box(
            spec.minimum.astype(np.float32), spec.maximum.astype(np.float32), dtype=np.float32
        )
        obs_spec = self._env.observation_spec()
        self.state_keys = list(obs_spec.keys())
        if pixels:
            quality = self._env.physics.model.vis.quality
            quality.offsamples = 0
            quality.shadowsize = 0
            self.observation_space = gym.spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        else:
            dim = sum(int(np.prod(obs_spec[k].shape)) for k in self.state_keys)
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)

    def _observe(self, time_step) -> np.ndarray:
        if self.pixels:
            return self._env.physics.render(self.image_size, self.image_size, camera_id=self.camera)
        parts = [np.asarray(time_step.observation[k], np.float32).ravel() for k in self.state_keys]
        return np.concatenate(parts)

    def render(self) -> np.ndarray:
        """[240, 240, 3] uint8: the task as a person sees it, from the observation's camera."""
        return self._env.physics.render(240, 240, camera_id=self.camera)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._env.task.random.seed(seed)
        return self._observe(self._env.reset()), {}

    def step(self, action):
        action = np.asarray(action, np.float64)
        reward = 0.0
        for _ in range(self.action_repeat):
            time_step = self._env.step(action)
            reward += time_step.reward or 0.0
            if time_step.last():
                break
        terminated = bool(time_step.last() and time_step.discount == 0.0)
        truncated = bool(time_step.last() and not terminated)
        return self._observe(time_step), reward, terminated, truncated, {}

    def close(self) -> None:
        self._env.close()


def make_dmc(cfg: EnvConfig, mode: str) -> gym.Env:
    """Build one DMC environment (the same protocol in training and evaluation)."""
    assert cfg.action_repeat is not None and cfg.frame_stack is not None  # (resolved)
    env: gym.Env = DMCEnv(
        cfg.name,
        pixels=cfg.pixels,
        image_size=cfg.image_size,
        camera=cfg.camera or 0,
        action_repeat=cfg.action_repeat,
    )
    limit = cfg.max_episode_steps if mode == "train" else cfg.eval_max_episode_steps
    assert limit is not None  # (resolved: 1000 frames)
    env = gym.wrappers.TimeLimit(env, limit)
    assert isinstance(env.action_space, gym.spaces.Box)
    low, high = env.action_space.low, env.action_space.high
    if not (np.all(low == -1) and np.all(high == 1)):
        env = gym.wrappers.RescaleAction(env, np.float32(-1), np.float32(1))
    return StackFrames(env, cfg.frame_stack)
