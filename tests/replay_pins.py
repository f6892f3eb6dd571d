"""Sampled batches and targets recorded from the replay as it was built row by row.

    python tests/replay_pins.py record     # writes tests/data/replay_pins.npz

Three replays (vector frames with a discrete action, vector frames with a continuous one,
uint8 image frames) are filled by three interleaved environments with episodes that end
in a terminal, at a time limit, or stay open, some shorter than the unroll window. For
each, the windows of every sampleable transition and of two prioritised samples, the
reward targets (plain and as value prefixes) and the TD targets of a value function that
weighs every number of the stacked observation differently (so a frame out of place
changes it) were recorded at the commit named in the file. test_replay.py requires the
replay to give the same arrays today.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ezv2_lite.config import override
from ezv2_lite.envs import EnvSpec
from ezv2_lite.model.networks import ModelOutput
from ezv2_lite.presets import preset
from ezv2_lite.replay import Replay
from ezv2_lite.targets import reward_targets, td_value_targets

PINS = Path(__file__).parent / "data" / "replay_pins.npz"
SPECS = {
    "vector": EnvSpec((6,), "float32", "discrete", 3, None, 1, 3),
    "continuous": EnvSpec((4,), "float32", "continuous", None, 2, 2, 1),
    "image": EnvSpec((12, 5, 4), "uint8", "discrete", 4, None, 4, 4),
}
# per environment slot: (length, how it ends) of its episodes; "open" stays unfinished
EPISODES = [
    [(7, "terminal"), (4, "limit"), (9, "open")],
    [(12, "limit"), (2, "terminal"), (5, "open")],
    [(1, "terminal"), (15, "terminal"), (3, "open")],
]
CONFIG = override(preset("cartpole"), optim=dict(unroll_steps=3, td_steps=4, discount=0.9))


class WeighedValue(nn.Module):
    """A value function: a fixed weighted sum of all the numbers of a stacked observation."""

    def __init__(self, spec: EnvSpec):
        super().__init__()
        size = int(np.prod(spec.obs_shape))
        self.w = nn.Parameter(torch.linspace(-1.0, 1.0, size, dtype=torch.float64) / size)

    def initial(self, obs: torch.Tensor) -> ModelOutput:
        value = obs.flatten(1).double() @ self.w
        return ModelOutput(obs, value[:, None], torch.zeros(len(obs), 1))

    def scalar_value(self, logits: torch.Tensor) -> torch.Tensor:
        return logits[:, 0]


def filled_replay(name: str) -> Replay:
    """The replay `name`, filled from seed 0 by three environments taking turns."""
    spec, rng = SPECS[name], np.random.default_rng(0)
    replay = Replay(CONFIG, spec, seed=0)
    per_frame = spec.obs_shape[0] // spec.frame_stack

    def frame():
        shape = (per_frame, *spec.obs_shape[1:])
        if spec.is_image:
            return rng.integers(0, 256, shape, dtype=np.uint8)
        return rng.standard_normal(shape).astype(np.float32)

    def action():
        return (
            int(rng.integers(spec.num_actions))
            if spec.is_discrete
            else rng.uniform(-1, 1, 2).astype(np.float32)
        )

    stacks = {}
    plans = [list(episodes) for episodes in EPISODES]
    steps_left = {}
    while any(plans) or steps_left:
        for slot in range(len(plans)):
            if slot not in steps_left:
                if not plans[slot]:
                    continue
                length, end = plans[slot].pop(0)
                first = frame()
                stacks[slot] = [first] * spec.frame_stack
                replay.start_episode(
                    slot, np.concatenate(stacks[slot]), float(rng.standard_normal())
                )
                steps_left[slot] = (length, end)
                continue
            length, end = steps_left[slot]
            stacks[slot] = stacks[slot][1:] + [frame()]
            reward = float(rng.standard_normal())
            replay.add(
                slot,
                action(),
                reward,
                2 * reward,
                np.concatenate(stacks[slot]),
                float(rng.standard_normal()),
            )
            if length == 1:
                del steps_left[slot]
                if end != "open":
                    replay.end_episode(slot, end == "terminal")
            else:
                steps_left[slot] = (length - 1, end)
    return replay


def _numpy(x) -> np.ndarray:
    return x.cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def run(name: str) -> dict[str, np.ndarray]:
    """Windows and targets of every sampleable transition, then of two prioritised samples."""
    replay = filled_replay(name)
    ready = np.flatnonzero(replay.ready[: replay.num_transitions])
    out = {}
    for label, batch in (
        ("all", replay.windows(ready)),
        ("sample0", replay.sample(8)),
        ("sample1", replay.sample(8)),
    ):
        for field in ("indices", "weights", "observations", "actions", "mask", "exists"):
            out[f"{name}/{label}/{field}"] = _numpy(getattr(batch, field))
        out[f"{name}/{label}/rewards"] = _numpy(reward_targets(replay, batch, False, 2))
        out[f"{name}/{label}/value_prefixes"] = _numpy(reward_targets(replay, batch, True, 2))
        out[f"{name}/{label}/td"] = _numpy(
            td_value_targets(replay, batch, WeighedValue(SPECS[name]))
        )
    return out


if __name__ == "__main__" and sys.argv[1:] == ["record"]:
    from ezv2_lite.tools.bench import code_commit

    PINS.parent.mkdir(exist_ok=True)
    arrays = {key: value for name in SPECS for key, value in run(name).items()}
    np.savez_compressed(PINS, commit=np.array(code_commit()), **arrays)
    print(f"wrote {PINS} ({len(arrays)} arrays)")
