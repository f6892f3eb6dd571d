"""Agent videos: evaluation episodes as a person sees them, captioned, written by imageio.

    returns, frames = record(model, config, episodes=1, seed=0)   # frames: [T, H, W, 3] uint8
    write_video("cartpole.mp4", frames)                            # or .gif
    returns, frames = captioned_frames(steps, 1, names)            # steps of evaluate.play, kept

Each frame is the environment's own rendering (`env.render()`) before the agent acts, with a
band above it that says the episode, the agent step, the return so far and the action the
search chose (discrete actions by the environment's names). Small renderings (Atari's
210 x 160 screen) are enlarged to at least 320 pixels wide so the caption stays readable.
MP4 goes through imageio's FFmpeg plugin (imageio-ffmpeg brings its own ffmpeg), GIF through
Pillow; no encoder is written here.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing
from itertools import islice
from pathlib import Path

import cv2
import numpy as np

from ..config import Config, ConfigError
from ..envs import action_names, make_env
from ..evaluate import Step, play
from ..model.networks import EZModel

VIDEO_SUFFIXES = (".mp4", ".gif")
MIN_WIDTH = 320
BAND = 44
"""Height of the caption band in pixels (two lines of text)."""


def action_text(action: np.ndarray, names: tuple[str, ...] | None) -> str:
    """`2 (right)` for a named discrete action, `[+0.12 -0.50]` for a continuous one."""
    if np.ndim(action) == 0:
        index = int(action)
        return f"{index} ({names[index]})" if names else str(index)
    return "[" + " ".join(f"{a:+.2f}" for a in np.asarray(action).ravel()) + "]"


def caption(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    """[H', W', 3] uint8: `frame` (enlarged by a whole factor to at least MIN_WIDTH wide) under a
    dark band holding `lines` (two at most) in white."""
    scale = max(1, -(-MIN_WIDTH // frame.shape[1]))
    if scale > 1:
        frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    band = np.full((BAND, frame.shape[1], 3), 24, np.uint8)
    for i, line in enumerate(lines[:2]):
        cv2.putText(
            band,
            line,
            (6, 17 + 20 * i),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return np.concatenate([band, np.ascontiguousarray(frame[..., :3], dtype=np.uint8)], axis=0)


def captioned_frames(
    steps: Iterable[Step], episodes: int, names: tuple[str, ...] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The raw returns [episodes] and the captioned frames [T, H, W, 3], one episode after the
    other, of the steps `evaluate.play(..., render=True)` yields (or a recorded list of them)."""
    returns = np.zeros(episodes)
    frames: list[list[np.ndarray]] = [[] for _ in range(episodes)]
    for step in steps:
        if step.frame is None:
            raise ValueError(
                "these steps carry no frames: play them with evaluate.play(..., render=True)"
            )
        frames[step.episode].append(
            caption(
                step.frame,
                [
                    f"episode {step.episode + 1}  step {step.t}  return {returns[step.episode]:.1f}",
                    f"action {action_text(step.action, names)}",
                ],
            )
        )
        returns[step.episode] += step.reward
    return returns, np.stack([f for episode in frames for f in episode])


def playback_fps(config: Config) -> float:
    """Agent steps per second of the environment's own clock (its frame rate over the action
    repeat: CartPole 50, Atari 60 / 4 = 15, DeepMind Control cartpole 100 / 2 = 50), so that a
    video plays at the speed of the task."""
    repeat = config.env.resolved().action_repeat
    assert repeat is not None
    env = make_env(config.env, "eval", 0)
    fps = env.metadata.get("render_fps") or 30 * repeat
    env.close()
    return fps / repeat


def record(
    model: EZModel,
    config: Config,
    episodes: int,
    seed: int,
    progress: bool = False,
    max_steps: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Play `episodes` evaluation episodes (`evaluate.play`, so the returns are the evaluation's);
    return their raw returns [episodes] and their captioned frames [T, H, W, 3]. `max_steps`
    stops after that many agent steps of all episodes together (the returns are then partial)."""
    probe = make_env(config.env, "eval", seed)
    names = action_names(probe, config.env)
    probe.close()
    steps = play(model, config, episodes, seed, progress=progress, render=True)
    with closing(steps):
        return captioned_frames(islice(steps, max_steps), episodes, names)


def check_video_path(path: str | Path) -> Path:
    """`path` if it ends in .mp4 or .gif (and its folder exists), else a ConfigError."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ConfigError(f"--video {path}: give a file ending in .mp4 or .gif")
    if not path.parent.is_dir():
        raise ConfigError(f"--video {path}: the folder {path.parent} does not exist")
    return path


def encode(frames: np.ndarray, suffix: str = ".mp4", fps: float = 30.0) -> bytes:
    """Frames [T, H, W, 3] uint8 as the bytes of an .mp4 (H.264) or a looping .gif."""
    import imageio.v3 as iio

    if suffix.lower() == ".gif":
        return iio.imwrite("<bytes>", frames, extension=".gif", duration=1000 / fps, loop=0)
    # (even sizes for yuv420p players)
    h, w = (
        frames.shape[1] - frames.shape[1] % 2,
        frames.shape[2] - frames.shape[2] % 2,
    )
    return iio.imwrite(
        "<bytes>",
        frames[:, :h, :w],
        extension=".mp4",
        fps=fps,
        codec="libx264",
        plugin="FFMPEG",
        macro_block_size=1,
    )


def write_video(path: str | Path, frames: np.ndarray, fps: float = 30.0) -> Path:
    """Write frames [T, H, W, 3] uint8 to an .mp4 or a .gif (`encode`)."""
    path = check_video_path(path)
    path.write_bytes(encode(frames, path.suffix, fps))
    return path
