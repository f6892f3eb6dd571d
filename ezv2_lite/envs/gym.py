"""Any Gymnasium environment with Discrete or Box actions and a Box observation.

Box actions are rescaled to [-1, 1] (the range of the squashed-Gaussian policy);
image observations (H, W, C uint8) become channel-first stacks, any other Box is
flattened to a float32 vector. Other spaces raise a ValueError that says what
is supported. Environments that can draw themselves are made with
`render_mode="rgb_array"`, so `env.render()` gives the frame a person would see.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import gymnasium as gym
import numpy as np

from ..config import EnvConfig
from .wrappers import StackFrames

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # classic-control frames are drawn off-screen

SUPPORTED = (
    "ezv2-lite supports Gymnasium environments with a Box observation space and a "
    "Discrete or Box action space"
)


def check_spaces(name: str, observation_space: gym.Space, action_space: gym.Space) -> None:
    """Raise a ValueError naming the unsupported space and what would work."""
    if not isinstance(observation_space, gym.spaces.Box):
        hint = (
            " (flatten it first, e.g. with gymnasium.wrappers.FlattenObservation)"
            if isinstance(observation_space, (gym.spaces.Dict, gym.spaces.Tuple))
            else ""
        )
        raise ValueError(
            f"{name}: observation space {observation_space} is not supported; {SUPPORTED}{hint}"
        )
    if isinstance(action_space, gym.spaces.Discrete):
        return
    if isinstance(action_space, gym.spaces.Box):
        if len(action_space.shape) != 1:
            raise ValueError(
                f"{name}: Box action space of shape {action_space.shape} is not "
                f"supported; continuous actions must be a 1-D Box"
            )
        if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
            raise ValueError(
                f"{name}: Box action space {action_space} has infinite bounds; "
                "give the environment finite bounds (gymnasium.wrappers.ClipAction)"
            )
        return
    raise ValueError(f"{name}: action space {action_space} is not supported; {SUPPORTED}")


def _is_image(space: gym.spaces.Box) -> bool:
    return space.dtype == np.uint8 and len(space.shape) == 3 and space.shape[-1] in (1, 3, 4)


def _frames_for_people(name: str) -> dict:
    """{"render_mode": "rgb_array"} where the environment can draw itself off-screen, else {}."""
    entry_point = gym.registry[name].entry_point
    creator = (
        gym.envs.registration.load_env_creator(entry_point)
        if isinstance(entry_point, str)
        else entry_point
    )
    modes = getattr(creator, "metadata", {}).get("render_modes", ())
    return {"render_mode": "rgb_array"} if "rgb_array" in modes else {}


def registered_id(name: str) -> str:
    """The Gymnasium id of `name`. `module:Id` (Gymnasium's own form) first imports `module`, whose
    import registers `Id`: `ezv2_lite.envs.examples:Catch-v0` -> `Catch-v0`. Your own environment
    trains from the command line this way."""
    if ":" not in name:
        return name
    module, env_id = name.split(":", 1)
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise ValueError(
            f"env.name {name!r}: cannot import {module!r}, the module that should register "
            f"{env_id!r} ({error}); is it installed, or on PYTHONPATH?"
        ) from error
    return env_id


def make_gym(cfg: EnvConfig, mode: str) -> gym.Env:
    """Build one Gymnasium environment from a resolved EnvConfig."""
    assert cfg.action_repeat is not None and cfg.frame_stack is not None  # (resolved)
    env_id = registered_id(cfg.name)
    if env_id not in gym.registry:
        raise ValueError(
            f"unknown Gymnasium environment {cfg.name!r}: give a registered id such "
            "as CartPole-v1 or Pendulum-v1 (gymnasium.pprint_registry() lists them), or "
            "module:Id for an environment that a module registers when imported"
        )
    if cfg.action_repeat > 1:
        raise ValueError(
            f"env.action_repeat={cfg.action_repeat} is not supported for the gym "
            "suite; use 1 (Atari and DMC apply their own protocol's repeat)"
        )
    limit = cfg.max_episode_steps if mode == "train" else cfg.eval_max_episode_steps
    kwargs: dict[str, Any] = {"max_episode_steps": limit} if limit is not None else {}
    env = gym.make(env_id, **kwargs, **_frames_for_people(env_id))
    check_spaces(cfg.name, env.observation_space, env.action_space)
    if isinstance(env.action_space, gym.spaces.Box):
        low, high = env.action_space.low, env.action_space.high
        if not (np.all(low == -1) and np.all(high == 1)):
            env = gym.wrappers.RescaleAction(env, np.float32(-1), np.float32(1))
    assert isinstance(env.observation_space, gym.spaces.Box)  # (check_spaces)
    if not _is_image(env.observation_space) and len(env.observation_space.shape) != 1:
        env = gym.wrappers.FlattenObservation(env)
    return StackFrames(env, cfg.frame_stack)
