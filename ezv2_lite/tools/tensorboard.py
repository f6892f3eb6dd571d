"""TensorBoard as an optional observer of training (`ezv2-lite train --tensorboard`).

    train(config, "runs/cartpole", observers=[TensorBoardLog("runs/cartpole")])
    tensorboard --logdir runs

It mirrors `metrics.jsonl`, which stays the run's record: every number of every metrics
line (losses, diagnostics, training episodes, evaluation returns) becomes a scalar of the same
name, against the line's `env_steps`, in RUN_DIR/tensorboard. A resumed run starts again from its
checkpoint, and so do its events: the first event after a resume purges the later ones a stopped
run had written (`purge_step`), and when the run had none (TensorBoard first asked for on a
resume) the lines already in `metrics.jsonl` are written first.

With `videos=True` (`--tensorboard-videos`) it also plays one more evaluation episode after each
evaluation, at most VIDEO_MAX_STEPS agent steps of it, and adds it as an animated GIF under
`eval_video` in TensorBoard's Images tab (`video.record`: the captioned frames of `ezv2-lite eval
--video`; the search's noise comes from its own NumPy generator, so the run's numbers do not
change). Needs the `tensorboard` extra (`pip install -e ".[tensorboard]"`); the course's setup
installs it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import ConfigError
from ..train import TrainEvent

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

STEP_FIELDS = ("env_steps",)
"""Fields of a metrics line that are its position, not a scalar to draw."""

VIDEO_SEED = 77_777
"""The seed of the evaluation episode recorded after each evaluation (the same start each time)."""

VIDEO_MAX_STEPS = 400
"""Agent steps of that episode at most (an Atari game can last 27,000)."""


class TensorBoardLog:
    """An observer writing each metrics and evaluation line of run `run_dir` (and, with `videos`,
    an episode after each evaluation) to TensorBoard event files in RUN_DIR/tensorboard."""

    def __init__(self, run_dir: str | Path, videos: bool = False):
        try:
            import tensorboard  # noqa: F401  (torch.utils.tensorboard needs it)
        except ImportError:
            raise ConfigError(
                '--tensorboard needs TensorBoard: pip install -e ".[tensorboard]" '
                "(or `pip install tensorboard`)"
            ) from None
        self.run_dir = Path(run_dir)
        self.writer: SummaryWriter | None = None  # opened at the first event
        self.kinds = ("metrics", "eval") + (("evaluated",) if videos else ())
        """The training events it reads (never the search trees or frames of every step)."""

    def _open(self, step: int) -> None:
        """The writer, opened at the run's first event: later events of a stopped run are purged."""
        from torch.utils.tensorboard import SummaryWriter

        log_dir = self.run_dir / "tensorboard"
        had_events = any(log_dir.glob("events.out.tfevents.*"))
        self.writer = SummaryWriter(str(log_dir), purge_step=step)
        metrics = self.run_dir / "metrics.jsonl"
        if not had_events and metrics.exists():  # asked for on a resume: the lines logged before it
            for line in metrics.read_text().splitlines():
                fields = json.loads(line)
                if fields.get("env_steps", 0) < step:
                    self._add_scalars(fields)

    def _add_scalars(self, fields: dict) -> None:
        assert self.writer is not None
        step = int(fields.get("env_steps", 0))
        for name, value in fields.items():
            if (
                name not in STEP_FIELDS
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
            ):
                self.writer.add_scalar(name, value, step)

    def __call__(self, event: TrainEvent) -> None:
        if self.writer is None:
            self._open(int(event.data.get("env_steps", 0)))
        if event.kind == "evaluated":
            self._add_video(event.data["model"], event.data["config"], int(event.data["env_steps"]))
        else:
            self._add_scalars(event.data)
        assert self.writer is not None
        self.writer.flush()

    def _add_video(self, model, config, step: int) -> None:
        """One evaluation episode as an animated GIF image summary (TensorBoard shows GIFs moving)."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        from .video import encode, playback_fps, record

        try:
            _, frames = record(model, config, 1, seed=VIDEO_SEED, max_steps=VIDEO_MAX_STEPS)
        except (
            ConfigError
        ) as error:  # an environment without frames: say so once, go on without videos
            print(f"--tensorboard-videos: {error}; the run goes on without videos")
            self.kinds = ("metrics", "eval")
            return
        gif = encode(frames, ".gif", playback_fps(config))
        assert self.writer is not None
        image = Summary.Image(
            height=frames.shape[1], width=frames.shape[2], colorspace=3, encoded_image_string=gif
        )
        # (torch types file_writer as None: its __init__ sets it)
        self.writer.file_writer.add_summary(  # type: ignore[attr-defined]
            Summary(value=[Summary.Value(tag="eval_video", image=image)]), step
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
