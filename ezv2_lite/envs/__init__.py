"""Environments: one factory for Gymnasium, Atari 100k, DeepMind Control and MinAtar (docs/algorithm.md §6).

    env  = make_env(cfg.env, mode="train", seed=0)      # a gymnasium.Env
    spec = env_spec(env, cfg.env)                        # what the model needs to know
    envs = make_vector_env(cfg.env, num_envs=4, mode="train", seed=0)

Every environment observes either an image stack, uint8 of shape
(frame_stack * 3, H, W), or a state vector, float32 of shape
(frame_stack * D,). Continuous actions are always in [-1, 1]^A.
`mode="eval"` plays the evaluation protocol (raw rewards, no life-loss
terminals, the evaluation time limit). `env.render()` gives the frame a person
would see (an RGB array) wherever the environment can draw itself, and
`spec.action_names` what the environment calls its discrete actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from ..config import EnvConfig
from .wrappers import SeedOnFirstReset

Mode = Literal["train", "eval"]


@dataclass(frozen=True)
class EnvSpec:
    """What the rest of ezv2-lite needs to know about an environment."""

    obs_shape: tuple[int, ...]
    """(C*stack, H, W) for images, (D*stack,) for state vectors."""
    obs_dtype: str
    """"uint8" for images, "float32" for state vectors."""
    action_kind: Literal["discrete", "continuous"]
    num_actions: int | None
    """Discrete: |A|. Continuous: None."""
    action_dim: int | None
    """Continuous: A (actions live in [-1, 1]^A). Discrete: None."""
    action_repeat: int
    frame_stack: int
    action_names: tuple[str, ...] | None = None
    """Discrete: what the environment calls each action (CartPole: push left, push right); None
    where it gives no names (and for continuous actions)."""

    @property
    def is_image(self) -> bool:
        return len(self.obs_shape) == 3

    @property
    def is_discrete(self) -> bool:
        return self.action_kind == "discrete"

    def describe(self) -> str:
        actions = (
            f"Discrete({self.num_actions})"
            if self.is_discrete
            else f"Box([-1, 1]^{self.action_dim})"
        )
        return (
            f"observation {self.obs_dtype}{list(self.obs_shape)}, actions {actions}, "
            f"action repeat {self.action_repeat}, frame stack {self.frame_stack}"
        )


def make_env(cfg: EnvConfig, mode: Mode = "train", seed: int | None = None) -> gymnasium.Env:
    """One environment for `cfg` (resolved here) in `mode`; `seed` seeds its first reset.

    Raises ValueError with what to do for unknown suites, names or unsupported spaces.
    """
    if mode not in ("train", "eval"):
        raise ValueError(f"mode must be 'train' or 'eval' (got {mode!r})")
    cfg = cfg.resolved()
    if cfg.suite == "atari":
        from .atari import make_atari

        env = make_atari(cfg, mode)
    elif cfg.suite == "dmc":
        from .dmc import make_dmc

        env = make_dmc(cfg, mode)
    elif cfg.suite == "minatar":
        from .minatar import make_minatar

        env = make_minatar(cfg, mode)
    elif cfg.suite == "gym":
        from .gym import make_gym

        env = make_gym(cfg, mode)
    else:
        raise ValueError(f"env.suite must be one of gym, atari, dmc, minatar (got {cfg.suite!r})")
    return SeedOnFirstReset(env, seed)


CLASSIC_CONTROL_ACTIONS = {
    "CartPole": ("push left", "push right"),
    "MountainCar": ("push left", "no push", "push right"),
    "Acrobot": ("torque -1", "torque 0", "torque +1"),
}
"""The actions of Gymnasium's classic-control tasks, as their documentation names them."""


def readable_atari_action(meaning: str) -> str:
    """An ALE action meaning for people: "UPLEFTFIRE" -> "up-left + fire", "NOOP" -> "no-op"."""
    if meaning == "NOOP":
        return "no-op"
    directions = re.findall("UP|DOWN|LEFT|RIGHT", meaning)
    return " + ".join(
        filter(None, ["-".join(directions).lower(), "fire" if "FIRE" in meaning else ""])
    )


def action_names(
    env: gymnasium.Env | gymnasium.vector.VectorEnv, cfg: EnvConfig
) -> tuple[str, ...] | None:
    """What the environment calls its discrete actions, or None where it has no names."""
    single: Any = env.envs[0] if hasattr(env, "envs") else env  # one gymnasium.Env, of any kind
    if not isinstance(getattr(single, "action_space", None), gymnasium.spaces.Discrete):
        return None
    if cfg.suite == "atari":
        return tuple(readable_atari_action(m) for m in single.unwrapped.get_action_meanings())
    if cfg.suite == "minatar":
        from .minatar import action_names as minatar_action_names

        return minatar_action_names(single)
    if cfg.suite != "gym":
        return None
    own = getattr(single.unwrapped, "action_names", None)  # an environment may name its own actions
    return tuple(own) if own is not None else CLASSIC_CONTROL_ACTIONS.get(cfg.name.split("-v")[0])


def env_spec(env: gymnasium.Env | gymnasium.vector.VectorEnv, cfg: EnvConfig) -> EnvSpec:
    """The EnvSpec of an environment (or of one copy inside a vector environment)."""
    cfg = cfg.resolved()
    assert cfg.action_repeat is not None and cfg.frame_stack is not None  # (resolved)
    obs_space: Any = getattr(env, "single_observation_space", env.observation_space)  # a Box
    act_space: Any = getattr(env, "single_action_space", env.action_space)  # Discrete or Box
    discrete = isinstance(act_space, gymnasium.spaces.Discrete)
    return EnvSpec(
        obs_shape=tuple(int(d) for d in obs_space.shape),
        obs_dtype=np.dtype(obs_space.dtype).name,
        action_kind="discrete" if discrete else "continuous",
        num_actions=int(act_space.n) if discrete else None,
        action_dim=None if discrete else int(act_space.shape[0]),
        action_repeat=int(cfg.action_repeat),
        frame_stack=int(cfg.frame_stack),
        action_names=action_names(env, cfg),
    )


def probe_spec(cfg: EnvConfig, seed: int = 0, mode: Mode = "train") -> EnvSpec:
    """The EnvSpec of an environment built once and closed (unknown environments fail here)."""
    env = make_env(cfg, mode, seed)
    try:
        return env_spec(env, cfg)
    finally:
        env.close()


def make_vector_env(
    cfg: EnvConfig, num_envs: int, mode: Mode = "train", seed: int = 0
) -> SyncVectorEnv:
    """`num_envs` copies stepped together; copy i is seeded with seed + i.

    Finished copies reset in the same step (Gymnasium's SAME_STEP autoreset):
    the returned observation is the new episode's first one and the finished
    episode's last observation is in `info["final_obs"]`.
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be at least 1 (got {num_envs})")
    fns = [lambda i=i: make_env(cfg, mode, seed + i) for i in range(num_envs)]
    return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
