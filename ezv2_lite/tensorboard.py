"""TensorBoard as an optional observer of training (`ezv2-lite train --tensorboard`).

    train(config, "runs/cartpole", observers=[TensorBoardLog("runs/cartpole/tensorboard")])
    tensorboard --logdir runs

It mirrors `metrics.jsonl`, which stays the run's record: every number of every metrics
line (losses, diagnostics, training episodes, evaluation returns) becomes a scalar of the same
name, against the line's `env_steps`. With `videos=True` (`--tensorboard-videos`) it also plays
one more evaluation episode after each evaluation and adds it as an animated GIF under
`eval_video` in TensorBoard's Images tab (`video.record`: the same captioned frames as
`ezv2-lite eval --video`; its own NumPy generator, so the run's numbers do not change). Needs the
`tensorboard` extra (`pip install -e ".[tensorboard]"`); the course's setup installs it.
"""

from __future__ import annotations

from pathlib import Path

from .config import ConfigError
from .train import TrainEvent

STEP_FIELDS = ("env_steps",)
"""Fields of a metrics line that are its position, not a scalar to draw."""


VIDEO_SEED = 77_777
"""The seed of the evaluation episode recorded after each evaluation (the same episode start each time)."""


class TensorBoardLog:
    """An observer writing each metrics and evaluation line (and, with `videos`, an episode after
    each evaluation) to TensorBoard event files."""

    def __init__(self, log_dir: str | Path, videos: bool = False):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("--tensorboard needs TensorBoard: pip install -e \".[tensorboard]\" "
                              "(or `pip install tensorboard`)") from None
        self.writer = SummaryWriter(str(log_dir))
        self.kinds = ("metrics", "eval") + (("evaluated",) if videos else ())
        """The training events it reads (never the search trees or frames of every step)."""

    def __call__(self, event: TrainEvent) -> None:
        if event.kind == "evaluated":
            return self._add_video(event.data["model"], event.data["config"], int(event.data["env_steps"]))
        step = int(event.data.get("env_steps", 0))
        for name, value in event.data.items():
            if name not in STEP_FIELDS and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(name, value, step)
        self.writer.flush()

    def _add_video(self, model, config, step: int) -> None:
        """One evaluation episode as an animated GIF image summary (TensorBoard shows GIFs moving)."""
        import imageio.v3 as iio
        from tensorboard.compat.proto.summary_pb2 import Summary

        from .video import record

        _, frames = record(model, config, 1, seed=VIDEO_SEED)
        gif = iio.imwrite("<bytes>", frames, extension=".gif", duration=1000 / 30, loop=0)
        image = Summary.Image(height=frames.shape[1], width=frames.shape[2], colorspace=3, encoded_image_string=gif)
        self.writer.file_writer.add_summary(Summary(value=[Summary.Value(tag="eval_video", image=image)]), step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
