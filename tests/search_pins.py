"""Seeded searches on full-size preset networks, pinned so that a rewrite of the search
cannot change what it does without a test noticing.

    python tests/search_pins.py record      # writes tests/data/search_pins.json

The file was recorded once, from the NumPy-tree search that the torch tree replaced
(its commit is in the file). `test_search.py` runs the same searches and requires the
same choices and visit counts, and the same policy targets and values to float32
rounding (the networks are float32; their sums can round differently with the thread count).
The networks get random non-zero weights (zero-initialised heads would make every Q
equal and every choice a tie-break) and are searched in eval mode.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from ezv2_lite.config import Config, override
from ezv2_lite.envs import EnvSpec
from ezv2_lite.model import build_model
from ezv2_lite.presets import preset
from ezv2_lite.search import search

PINS = Path(__file__).parent / "data" / "search_pins.json"
SPECS = {
    "cartpole": EnvSpec((4,), "float32", "discrete", 2, None, 1, 1),
    "pendulum": EnvSpec((3,), "float32", "continuous", None, 1, 1, 1),
    "dmc_state": EnvSpec((24,), "float32", "continuous", None, 6, 2, 1),
    "atari_small": EnvSpec((12, 64, 64), "uint8", "discrete", 6, None, 4, 4),
}
BATCH = {"cartpole": 8, "pendulum": 8, "dmc_state": 8, "atari_small": 3}
MODES = ("act", "reanalyze", "evaluate")


def atari_small() -> Config:
    """The retired `atari_small` preset (64 px Atari, 32 channels, a 128-unit value-prefix LSTM),
    whose networks the Atari-shaped pins were recorded with."""
    return override(
        override(preset("atari"), preset="atari_small"),
        env=dict(name="Pong", image_size=64, eval_max_episode_steps=10_000),
        model=dict(
            channels=32,
            lstm_hidden=128,
            projection_hidden=256,
            projection_dim=256,
            prediction_hidden=64,
        ),
        optim=dict(batch_size=64, lr_decay_steps=9500, mixed_value_start_step=6000),
        train=dict(
            total_env_steps=100_000,
            train_ratio=0.5,
            offline_train_steps=0,
            eval_every_env_steps=20_000,
            log_every_env_steps=2000,
            checkpoint_every_env_steps=5000,
        ),
    )


def config(name: str) -> Config:
    """The config a pinned search ran with: the preset of that name (or the retired atari_small)."""
    return atari_small() if name == "atari_small" else preset(name)


def network(name: str):
    """The preset's network with weights drawn from N(0, 0.2^2) under seed 0, in eval mode."""
    torch.manual_seed(0)
    model = build_model(config(name), SPECS[name]).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(std=0.2)
    return model


def observations(name: str, seed: int) -> np.ndarray:
    spec, rng = SPECS[name], np.random.default_rng(100 + seed)
    if spec.obs_dtype == "uint8":
        return rng.integers(0, 256, (BATCH[name], *spec.obs_shape), dtype=np.uint8)
    return rng.standard_normal((BATCH[name], *spec.obs_shape)).astype(np.float32)


def run(name: str, mode: str, seed: int, device: str = "cpu") -> dict:
    """One seeded search of BATCH[name] roots, with a trace of root 1, as plain lists."""
    result = search(
        network(name).to(device),
        observations(name, seed),
        config(name),
        mode,
        np.random.default_rng(seed),
        trace_root=1,
    )
    return {
        "action_slot": result.action_slot.tolist(),
        "visit_counts": result.visit_counts.tolist(),
        "action": np.asarray(result.action, np.float64).tolist(),
        "improved_policy": result.improved_policy.tolist(),
        "root_value": result.root_value.tolist(),
        "trace_paths": result.trace.paths,
        "trace_parent": result.trace.parent.tolist(),
    }


def cases() -> list[tuple[str, str, int]]:
    return [(name, mode, seed) for name in SPECS for mode in MODES for seed in (0, 1)]


if __name__ == "__main__" and sys.argv[1:] == ["record"]:
    from ezv2_lite.tools.bench import code_commit

    PINS.parent.mkdir(exist_ok=True)
    pins = {f"{n}/{m}/{s}": run(n, m, s) for n, m, s in cases()}
    PINS.write_text(json.dumps({"commit": code_commit(), "runs": pins}) + "\n")
    print(f"wrote {PINS} ({len(pins)} searches)")
