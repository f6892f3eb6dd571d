"""TensorBoard as an optional observer of training (`ezv2-lite train --tensorboard`).

    train(config, "runs/cartpole", observers=[TensorBoardLog("runs/cartpole/tensorboard")])
    tensorboard --logdir runs

It mirrors `metrics.jsonl`, which stays the run's record: every number of every metrics
line (losses, diagnostics, training episodes, evaluation returns) becomes a scalar of the same
name, against the line's `env_steps`. Needs the `tensorboard` extra
(`pip install -e ".[tensorboard]"`); the course's setup installs it.
"""

from __future__ import annotations

from pathlib import Path

from .config import ConfigError
from .train import TrainEvent

STEP_FIELDS = ("env_steps",)
"""Fields of a metrics line that are its position, not a scalar to draw."""


class TensorBoardLog:
    """An observer writing each metrics and evaluation line to TensorBoard event files."""

    kinds = ("metrics", "eval")
    """The training events it reads (it needs no search trees or frames)."""

    def __init__(self, log_dir: str | Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("--tensorboard needs TensorBoard: pip install -e \".[tensorboard]\" "
                              "(or `pip install tensorboard`)") from None
        self.writer = SummaryWriter(str(log_dir))

    def __call__(self, event: TrainEvent) -> None:
        step = int(event.data.get("env_steps", 0))
        for name, value in event.data.items():
            if name not in STEP_FIELDS and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(name, value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
