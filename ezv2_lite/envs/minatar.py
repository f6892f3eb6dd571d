"""MinAtar (Young & Tian, 2019): five Atari-like games on a 10 x 10 grid, the CPU pixel benchmark.

Each game observes a bool grid (10, 10, C), one channel per kind of object (Breakout: paddle,
ball, trail, bricks; C = 4 to 10). A pixel is a game cell, so the image networks take the grid
as it is, without downsampling (`model.downsample=1`, the `minatar` preset).

The games come from the `minatar` package (GPL-3.0, the optional `minatar` extra: `pip install
'ezv2-lite[minatar]'`), which registers its Gymnasium ids only when asked
(`minatar.gym.register_envs()`). Its protocol is kept in training and evaluation alike, as the
MinAtar paper ran DQN: sticky actions (the previous action repeats with probability 0.1),
difficulty ramping, the minimal action set (`MinAtar/<Game>-v1`), rewards unclipped (+1 per
brick, treasure, car crossing or enemy hit).

Wrapper stack (innermost first):

    MinAtar/<Game>-v1   bool (10, 10, C), the package's colour palette for `render()`
    GridAsPixels        uint8 (10, 10, C) in {0, 255}: the image model's /255 gives 0 or 1;
                        `render()` as uint8 RGB, each cell drawn as 16 x 16 pixels for people
    TimeLimit           10,000 agent steps (a game a good agent never loses must end)
    StackFrames         channel-first: uint8 (stack * C, 10, 10)
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from ..config import EnvConfig
from .wrappers import StackFrames

GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")

ACTION_NAMES = {"n": "no-op", "l": "left", "u": "up", "r": "right", "d": "down", "f": "fire"}
"""MinAtar's six actions by the letters the games call them."""

CELL_PIXELS = 16
"""`render()` draws each of the 10 x 10 cells as a square this many pixels wide."""


def register_minatar() -> None:
    """Register the MinAtar Gymnasium ids, or say how to install the package."""
    try:
        import minatar.gym
    except ImportError as error:
        raise ValueError(
            "the MinAtar games need the minatar package: pip install 'ezv2-lite[minatar]' "
            "(or pip install minatar)"
        ) from error
    if "MinAtar/Breakout-v1" not in gym.registry:
        minatar.gym.register_envs()


def minatar_id(name: str) -> str:
    """Gymnasium id of a MinAtar game: `Breakout` -> `MinAtar/Breakout-v1` (minimal action set)."""
    return name if name.startswith("MinAtar/") else f"MinAtar/{name}-v1"


class GridAsPixels(gym.ObservationWrapper):
    """The bool grid as uint8 pixels in {0, 255}, and `render()` as an RGB picture for people."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.observation_space = gym.spaces.Box(0, 255, env.observation_space.shape, np.uint8)

    def observation(self, observation):
        return np.asarray(observation, np.uint8) * np.uint8(255)

    def render(self):
        # floats in [0, 1], (10, 10, 3), the package's palette
        frame = np.asarray(self.env.render())
        frame = (frame * 255).round().astype(np.uint8)
        return np.repeat(np.repeat(frame, CELL_PIXELS, axis=0), CELL_PIXELS, axis=1)


def action_names(env: gym.Env) -> tuple[str, ...]:
    """What each action of a MinAtar environment does: Breakout -> no-op, left, right."""
    game: Any = env.unwrapped  # a MinAtar game (typed as a plain gym.Env)
    letters = game.game.env.action_map
    return tuple(ACTION_NAMES[letters[a]] for a in game.action_set)


def make_minatar(cfg: EnvConfig, mode: str) -> gym.Env:
    """Build one MinAtar game for `mode` in {"train", "eval"} from a resolved EnvConfig."""
    assert cfg.action_repeat is not None and cfg.frame_stack is not None  # (resolved)
    register_minatar()
    env_id = minatar_id(cfg.name)
    if env_id not in gym.registry:
        raise ValueError(f"unknown MinAtar game {cfg.name!r}: give one of {', '.join(GAMES)}")
    if cfg.action_repeat > 1:
        raise ValueError(
            f"env.action_repeat={cfg.action_repeat} is not supported for MinAtar; use 1 "
            "(a MinAtar step is one game frame)"
        )
    env: gym.Env = GridAsPixels(gym.make(env_id, render_mode="rgb_array", disable_env_checker=True))
    limit = cfg.max_episode_steps if mode == "train" else cfg.eval_max_episode_steps
    if limit is not None:
        env = gym.wrappers.TimeLimit(env, limit)
    return StackFrames(env, cfg.frame_stack)
