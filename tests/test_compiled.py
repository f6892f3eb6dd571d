"""The compiled model step (`search.compile_step`, ezv2_lite/accel/compiled.py).

Compiling takes a few seconds per shape on a CPU, so these tests compile two small models.
"""

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

import search_pins
from ezv2_lite.accel.compiled import padded_size
from ezv2_lite.config import ConfigError, override, preset, validate
from ezv2_lite.envs import EnvSpec
from ezv2_lite.model import build_model
from ezv2_lite.search import search


def test_batches_are_padded_to_powers_of_two():
    assert [padded_size(b) for b in (1, 2, 3, 4, 5, 8, 9, 384, 1536)] == [1, 2, 4, 4, 8, 8, 16, 512, 2048]


def _same_search(model, config, obs):
    compiled = override(config, search=dict(compile_step=True))
    readable, fast = (search(model, obs, c, "act", np.random.default_rng(1)) for c in (config, compiled))
    np.testing.assert_array_equal(readable.action_slot, fast.action_slot)
    np.testing.assert_allclose(readable.improved_policy, fast.improved_policy, atol=1e-4)
    np.testing.assert_allclose(readable.root_value, fast.root_value, rtol=1e-4, atol=1e-4)


def test_the_compiled_step_gives_the_readable_search_sees_new_weights_and_compiles_once_per_size():
    import ezv2_lite.accel  # noqa: F401  (registers the compiled step)

    torch._dynamo.reset()
    counters.clear()
    model, config = search_pins.network("cartpole"), preset("cartpole")
    obs = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    for batch in (5, 6, 3):          # padded to 8, 8 and 4: two compiled shapes
        _same_search(model, config, obs[:batch])
        with torch.no_grad():        # an optimizer step between searches must be seen
            for p in model.parameters():
                p.mul_(1.05)
    assert counters["stats"]["unique_graphs"] == 2


def test_the_compiled_step_carries_the_value_prefix_lstm_state():
    import ezv2_lite.accel  # noqa: F401

    config = override(preset("atari_small"), env=dict(image_size=32), model=dict(channels=8, lstm_hidden=16))
    torch.manual_seed(0)
    model = build_model(config, EnvSpec((12, 32, 32), "uint8", "discrete", 6, None, 4, 4)).eval()
    obs = np.random.default_rng(0).integers(0, 256, (3, 12, 32, 32), dtype=np.uint8)
    _same_search(model, config, obs)


def test_one_faster_step_at_a_time():
    with pytest.raises(ConfigError, match="choose one"):
        validate(override(preset("cartpole"), search=dict(fused_inference=True, compile_step=True)))
