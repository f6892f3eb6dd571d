"""The compiled model step (`runtime.compile_step`, ezv2_lite/accel/compiled.py).

Compiling takes a few seconds per shape on a CPU, so these tests compile two small models.
"""

import numpy as np
import pytest
import search_pins
import torch
from torch._dynamo.utils import counters

from ezv2_lite.accel.compiled import padded_size
from ezv2_lite.config import ConfigError, override, validate
from ezv2_lite.envs import EnvSpec
from ezv2_lite.model import build_model
from ezv2_lite.presets import preset
from ezv2_lite.search import search


def test_batches_are_padded_to_a_few_fixed_sizes():
    sizes = [padded_size(b) for b in range(1, 2049)]
    assert sorted(set(sizes)) == [
        1,
        2,
        3,
        4,
        6,
        8,
        12,
        16,
        24,
        32,
        48,
        64,
        96,
        128,
        192,
        256,
        384,
        512,
        768,
        1024,
        1536,
        2048,
    ]
    assert all(b <= size <= 1.5 * b for b, size in zip(range(1, 2049), sizes, strict=True))


def _same_search(model, config, obs):
    compiled = override(config, runtime=dict(compile_step=True))
    readable, fast = (
        search(model, obs, c, "act", np.random.default_rng(1)) for c in (config, compiled)
    )
    np.testing.assert_array_equal(readable.action_slot, fast.action_slot)
    np.testing.assert_allclose(readable.improved_policy, fast.improved_policy, atol=1e-4)
    np.testing.assert_allclose(readable.root_value, fast.root_value, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_the_compiled_step_gives_the_readable_search_sees_new_weights_and_compiles_once_per_size():
    import ezv2_lite.accel  # noqa: F401  (registers the compiled step)

    torch._dynamo.reset()
    counters.clear()
    model, config = search_pins.network("cartpole"), preset("cartpole")
    obs = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    for batch in (5, 6, 3):  # padded to 6, 6 and 3: two compiled shapes
        _same_search(model, config, obs[:batch])
        with torch.no_grad():  # an optimizer step between searches must be seen
            for p in model.parameters():
                p.mul_(1.05)
    assert counters["stats"]["unique_graphs"] == 2


def test_a_continuous_search_is_the_same_compiled():
    import ezv2_lite.accel  # noqa: F401

    obs = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    _same_search(search_pins.network("pendulum"), preset("pendulum"), obs)


def test_the_compiled_step_carries_the_value_prefix_lstm_state():
    """Chained steps of a value-prefix model (random non-zero weights: the heads' zero-initialised
    last layers would make every output equal), compiled and readable, outputs and LSTM state."""
    from ezv2_lite.accel.compiled import compiled_recurrent

    config = override(preset("minatar"), model=dict(channels=8, lstm_hidden=16, downsample=16))
    torch.manual_seed(0)
    model = build_model(config, EnvSpec((12, 32, 32), "uint8", "discrete", 6, None, 4, 4)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(std=0.2)
        obs = torch.randint(0, 256, (5, 12, 32, 32), dtype=torch.uint8)
        latent = fast_latent = model.initial(obs).latent
        hidden = fast_hidden = model.initial_hidden(5, obs.device)
        step = compiled_recurrent(model)
        for action in torch.randint(0, 6, (3, 5)):
            out, fast = (
                model.recurrent(latent, action, hidden),
                step(fast_latent, action, fast_hidden),
            )
            for name in ("latent", "value_logits", "policy", "reward_logits"):
                torch.testing.assert_close(
                    getattr(fast, name), getattr(out, name), rtol=1e-4, atol=1e-4
                )
            torch.testing.assert_close(fast.hidden, out.hidden, rtol=1e-4, atol=1e-4)
            # not trivially equal
            assert out.value_logits.std() > 0.01 and out.hidden[0].std() > 0.01
            latent, hidden, fast_latent, fast_hidden = (
                out.latent,
                out.hidden,
                fast.latent,
                fast.hidden,
            )


def test_one_faster_step_at_a_time():
    with pytest.raises(ConfigError, match="choose one"):
        validate(
            override(preset("cartpole"), runtime=dict(fused_inference=True, compile_step=True))
        )
