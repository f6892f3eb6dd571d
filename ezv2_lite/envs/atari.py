"""Atari 100k through Gymnasium and ale-py, with EZ-V2's protocol (docs/algorithm.md §6).

Wrapper stack (innermost first):

    ALE/<Game>-v5   frameskip=1, repeat_action_probability=0 (no sticky actions),
                    minimal action set
    AtariPreprocessing   1..noop_max no-op frames at reset, frame skip 4 summing
                         the rewards and max-pooling the last two frames,
                         RGB resized to image_size x image_size (INTER_AREA)
    EpisodicLife    training only: a lost life ends the episode
    TimeLimit       training: max_episode_steps; evaluation: 27,000 agent steps
    ClipReward      training only: sign(r), raw reward in info["raw_reward"]
    StackFrames     4 frames, channel-first: uint8 (12, 96, 96)
"""

from __future__ import annotations

import gymnasium as gym

from ..config import EnvConfig
from .wrappers import ClipReward, EpisodicLife, StackFrames


def atari_id(name: str) -> str:
    """Gymnasium id of an Atari game: `Pong` -> `ALE/Pong-v5`."""
    return name if name.startswith("ALE/") else f"ALE/{name}-v5"


def known_games() -> list[str]:
    import ale_py

    gym.register_envs(ale_py)
    return sorted(k[4:-3] for k in gym.registry if k.startswith("ALE/") and k.endswith("-v5"))


def make_atari(cfg: EnvConfig, mode: str) -> gym.Env:
    """Build one Atari environment for `mode` in {"train", "eval"} from a resolved EnvConfig."""
    import ale_py

    # no "A.L.E: ... [Powered by Stella]" banner
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    gym.register_envs(ale_py)
    env_id = atari_id(cfg.name)
    if env_id not in gym.registry:
        examples = ", ".join(
            g for g in known_games() if g in ("Pong", "Breakout", "Asterix", "MsPacman")
        )
        raise ValueError(
            f"unknown Atari game {cfg.name!r}: give a game name such as {examples} "
            f"(the ALE id {env_id!r} is not registered)"
        )
    training = mode == "train"
    assert cfg.action_repeat is not None and cfg.frame_stack is not None  # (resolved)
    env = gym.make(
        env_id,
        frameskip=1,
        repeat_action_probability=0.0,
        full_action_space=False,
        max_episode_steps=None,
        render_mode="rgb_array",  # render(): the 210 x 160 screen
    )
    env = gym.wrappers.AtariPreprocessing(
        env,
        noop_max=cfg.noop_max,
        frame_skip=cfg.action_repeat,
        screen_size=cfg.image_size,
        terminal_on_life_loss=False,
        grayscale_obs=False,
    )
    if training and cfg.episodic_life:
        env = EpisodicLife(env)
    limit = cfg.max_episode_steps if training else cfg.eval_max_episode_steps
    if limit is not None:
        env = gym.wrappers.TimeLimit(env, limit)
    if training and cfg.clip_rewards:
        env = ClipReward(env)
    return StackFrames(env, cfg.frame_stack)
