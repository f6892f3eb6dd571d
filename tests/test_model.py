"""Supports, the squashed Gaussian and the networks (docs/algorithm.md §1)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from ezv2_lite.config import SupportConfig, override
from ezv2_lite.envs import EnvSpec
from ezv2_lite.model import Support, build_model, h, h_inv
from ezv2_lite.model.policy import squash_params, squashed_log_prob
from ezv2_lite.presets import preset

# ezv2_lite flushes subnormal floats to zero (docs/performance.md), so none are drawn
finite = st.floats(min_value=-1e5, max_value=1e5, allow_nan=False, allow_subnormal=False)


@given(finite)
def test_h_of_h_inverse_is_identity(x):
    y = torch.tensor(x, dtype=torch.float64)
    assert float(h(h_inv(y))) == pytest.approx(x, rel=1e-9, abs=1e-9)
    assert float(h_inv(h(y))) == pytest.approx(x, rel=1e-9, abs=1e-9)


def test_h_matches_its_definition():
    for x in (-50.0, -1.0, 0.0, 0.5, 299.0):
        expected = math.copysign(math.sqrt(abs(x) + 1) - 1, x) + 0.001 * x
        assert float(h(torch.tensor(x, dtype=torch.float64))) == pytest.approx(expected)


@settings(max_examples=200)
@given(st.floats(min_value=-299, max_value=299, allow_nan=False, allow_subnormal=False))
def test_two_hot_round_trips_inside_the_support(x):
    for cfg in (SupportConfig("h_spaced", 299.0, 51), SupportConfig("integer", 300.0, 601)):
        support = Support(cfg)
        target = support.encode(torch.tensor([x], dtype=torch.float64))
        assert float(target.sum()) == pytest.approx(1.0)
        assert (target > 0).sum() <= 2
        assert float(support.decode_probs(target)[0]) == pytest.approx(x, rel=1e-6, abs=1e-6)


def test_dmc_value_support_reference_values():
    support = Support(SupportConfig("h_spaced", 299.0, 51))
    assert support.size == 51 and support.high == pytest.approx(16.620, abs=1e-3)
    assert support.spacing == pytest.approx(0.6648, abs=1e-4)
    target = support.encode(torch.tensor([100.0], dtype=torch.float64))[0]
    assert np.flatnonzero(target.numpy()).tolist() == [38, 39]
    assert float(target[38]) == pytest.approx(0.24, abs=0.005)
    assert float(target[39]) == pytest.approx(0.76, abs=0.005)
    reward = Support(SupportConfig("h_spaced", 2.0, 51))
    assert reward.high == pytest.approx(0.7341, abs=1e-4) and reward.spacing == pytest.approx(
        0.02936, abs=1e-5
    )


def test_atari_support_has_601_integer_bins_and_clamps():
    support = Support(SupportConfig("integer", 300.0, 601))
    assert support.size == 601
    zero = support.encode(torch.tensor([0.0]))[0]
    assert float(zero[300]) == 1.0
    huge = support.encode(torch.tensor([1e9]))[0]
    assert float(huge[600]) == pytest.approx(1.0)


def test_decoding_uniform_logits_gives_zero():
    support = Support(SupportConfig("h_spaced", 299.0, 51))
    assert float(support.decode(torch.zeros(1, 51))[0]) == pytest.approx(0.0, abs=1e-5)


def test_squashed_gaussian_log_prob_matches_a_numerical_change_of_variables():
    mu, sigma = torch.tensor([[0.3]]), torch.tensor([[0.8]])
    for a in (-0.95, -0.4, 0.0, 0.5, 0.9):
        eps = 1e-4
        lo, hi = np.arctanh(a - eps), np.arctanh(a + eps)
        density = (norm.cdf(hi, 0.3, 0.8) - norm.cdf(lo, 0.3, 0.8)) / (2 * eps)
        log_p = float(squashed_log_prob(torch.tensor([[a]]), mu, sigma)[0])
        assert math.exp(log_p) == pytest.approx(density, rel=1e-4)
    grid = torch.linspace(-0.999, 0.999, 20001)[:, None]
    integral = torch.trapezoid(
        squashed_log_prob(grid, mu.expand(len(grid), 1), sigma.expand(len(grid), 1)).exp(),
        grid[:, 0],
    )
    assert float(integral) == pytest.approx(1.0, abs=2e-3)


def test_squash_params_soft_clamps_mean_and_floors_std():
    raw = torch.tensor([[100.0, -100.0, 0.0, -100.0]])
    mu, sigma = squash_params(raw)
    assert mu[0, 0] == pytest.approx(5.0, abs=1e-3) and mu[0, 1] == pytest.approx(-5.0, abs=1e-3)
    assert sigma[0, 0] == pytest.approx(math.log1p(math.e) + 0.1, abs=1e-5)  # softplus(1) + 0.1
    assert sigma[0, 1] == pytest.approx(0.1, abs=1e-6)


SPECS = {
    "atari": EnvSpec((12, 96, 96), "uint8", "discrete", 18, None, 4, 4),
    "dmc_state": EnvSpec((24,), "float32", "continuous", None, 6, 2, 1),
    "dmc_image": EnvSpec((12, 64, 64), "uint8", "continuous", None, 6, 2, 4),
    "cartpole": EnvSpec((4,), "float32", "discrete", 2, None, 1, 1),
}


@pytest.mark.parametrize("name", list(SPECS))
def test_networks_have_the_documented_shapes(name):
    cfg, spec = preset(name), SPECS[name]
    model = build_model(cfg, spec).eval()
    dtype = torch.uint8 if spec.is_image else torch.float32
    obs = torch.zeros(3, *spec.obs_shape, dtype=dtype)
    out = model.initial(obs)
    bins_v = cfg.model.value_support.bins
    policy = spec.num_actions if spec.is_discrete else 2 * spec.action_dim
    assert out.value_logits.shape == (3, bins_v) and out.policy.shape == (3, policy)
    action = (
        torch.zeros(3, dtype=torch.long) if spec.is_discrete else torch.zeros(3, spec.action_dim)
    )
    nxt = model.recurrent(out.latent, action, model.initial_hidden(3, obs.device))
    assert nxt.latent.shape == out.latent.shape
    assert nxt.reward_logits.shape == (3, cfg.model.reward_support.bins)
    assert model.project(nxt.latent).shape == (3, cfg.model.projection_dim)
    if spec.is_image:
        side = spec.obs_shape[1] // 16
        assert out.latent.shape == (3, cfg.model.channels, side, side)
    # Zero-initialised policy heads: a uniform prior, or mu = 0 and sigma = softplus(1) + 0.1.
    if spec.is_discrete:
        assert torch.allclose(out.policy, torch.zeros_like(out.policy))
    else:
        mu, sigma = squash_params(out.policy)
        assert torch.allclose(mu, torch.zeros_like(mu)) and torch.allclose(
            sigma, torch.full_like(sigma, 1.4133), atol=1e-3
        )


def test_atari_latent_is_64x6x6_and_value_prefix_carries_an_lstm_state():
    model = build_model(preset("atari"), SPECS["atari"]).eval()
    out = model.initial(torch.zeros(2, 12, 96, 96, dtype=torch.uint8))
    assert out.latent.shape == (2, 64, 6, 6)
    hidden = model.initial_hidden(2, torch.device("cpu"))
    nxt = model.recurrent(out.latent, torch.tensor([0, 5]), hidden)
    assert nxt.hidden[0].shape == (2, 512) and not torch.equal(nxt.hidden[0], hidden[0])


def test_running_observation_normaliser_updates_in_training_mode_only():
    model = build_model(preset("dmc_state"), SPECS["dmc_state"])
    obs = torch.randn(256, 24) * 3 + 2
    model.eval()
    model.initial(obs)
    assert torch.equal(model.normalizer.mean, torch.zeros(24))
    model.train()
    model.initial(obs)
    # 256 new samples against an initial count of 1000 at mean 0.
    assert torch.allclose(model.normalizer.mean, obs.mean(0) * 256 / 1256, atol=1e-5)


def test_model_and_observation_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="encoder='image' needs image observations"):
        build_model(preset("atari"), SPECS["cartpole"])
    with pytest.raises(ValueError, match="value_prefix needs model.encoder='image'"):
        build_model(override(preset("cartpole"), model=dict(value_prefix=True)), SPECS["cartpole"])


# ------------------------------------------------------------------ fused inference


def _randomise_norms(model: torch.nn.Module, seed: int = 0) -> None:
    """Non-trivial LayerNorm/BatchNorm parameters and statistics, so that folding them is tested
    (a fresh model's norms are identities, which any folding would pass)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.LayerNorm, torch.nn.BatchNorm1d)):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator))
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.copy_(
                    torch.randn(module.running_mean.shape, generator=generator)
                )
                module.running_var.copy_(
                    torch.rand(module.running_var.shape, generator=generator) + 0.5
                )
            if isinstance(module, torch.nn.Linear):  # zero-initialised heads would hide mistakes
                module.weight.copy_(0.1 * torch.randn(module.weight.shape, generator=generator))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=generator))


FUSED_CASES = {
    "dmc_state": (preset("dmc_state"), EnvSpec((24,), "float32", "continuous", None, 6, 2, 1)),
    "cartpole": (preset("cartpole"), EnvSpec((4,), "float32", "discrete", 2, None, 1, 1)),
    # heads of different widths are padded with zero units
    "uneven heads": (
        override(
            preset("cartpole"),
            model=dict(reward_hidden=(32,), value_hidden=(64,), policy_hidden=(48,)),
        ),
        EnvSpec((4,), "float32", "discrete", 3, None, 1, 1),
    ),
}


def _fused_case_model(case: str, seed: int = 0):
    """The model of a FUSED_CASES entry with random norm statistics, in eval mode, and its spec."""
    config, spec = FUSED_CASES[case]
    torch.manual_seed(seed)
    model = build_model(config, spec)
    _randomise_norms(model, seed=seed)
    return model.eval(), spec


@pytest.mark.parametrize("case", list(FUSED_CASES))
@pytest.mark.parametrize("batch", [1, 40])  # below and above BATCHED_HEADS_BELOW
def test_fused_recurrent_matches_the_readable_model(case, batch):
    from ezv2_lite.accel.fused import fused_recurrent

    model, spec = _fused_case_model(case)
    latent = torch.randn(batch, model.latent_shape[0])
    action = (
        torch.randint(spec.num_actions, (batch,))
        if spec.is_discrete
        else torch.rand(batch, spec.action_dim) * 2 - 1
    )
    with torch.no_grad():
        expected, fused = model.recurrent(latent, action), fused_recurrent(model)(latent, action)
    for name in ("latent", "reward_logits", "value_logits", "policy"):
        a, b = getattr(expected, name), getattr(fused, name)
        assert a.shape == b.shape, name
        assert a.abs().max() > 0.1, name  # a real output, not an all-zero head
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4, msg=name)


def test_fused_recurrent_is_rebuilt_after_an_optimizer_step():
    from ezv2_lite.accel.fused import fused_recurrent

    config, spec = FUSED_CASES["cartpole"]
    model = build_model(config, spec).eval()
    latent, action = torch.randn(3, model.latent_shape[0]), torch.tensor([0, 1, 0])
    with torch.no_grad():
        before = fused_recurrent(model)(latent, action).value_logits
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model.value_head[2][-1].bias.grad = torch.ones_like(model.value_head[2][-1].bias)
    optimizer.step()
    with torch.no_grad():
        after = fused_recurrent(model)(latent, action).value_logits
        expected = model.recurrent(latent, action).value_logits
    torch.testing.assert_close(after, before - 0.5)
    torch.testing.assert_close(after, expected)


def test_fused_inference_needs_a_state_model():
    from ezv2_lite.accel.fused import FusedRecurrent
    from ezv2_lite.config import ConfigError, validate

    with pytest.raises(ConfigError, match="fused_inference.*encoder='state'"):
        validate(override(preset("atari"), runtime=dict(fused_inference=True)))
    model = build_model(*FUSED_CASES["cartpole"])
    with pytest.raises(ValueError, match="eval mode"):
        FusedRecurrent(model)  # a model in training mode would need batch statistics


@pytest.mark.parametrize("name", ["dmc_state", "cartpole"])
def test_value_and_reward_decoded_together_equal_the_separate_decodings(name):
    config, spec = FUSED_CASES[name]
    model = build_model(config, spec)
    _randomise_norms(model)
    model.eval()
    with torch.no_grad():
        out = model.recurrent(
            torch.randn(5, model.latent_shape[0]),
            torch.tensor([0, 1, 1, 0, 1]) if spec.is_discrete else torch.zeros(5, 6),
        )
        value, reward = model.scalar_value_reward(out)
        assert value.dtype == reward.dtype == torch.float64
        np.testing.assert_allclose(
            value, model.scalar_value(out.value_logits).numpy(), rtol=1e-5, atol=1e-5
        )
        np.testing.assert_allclose(
            reward, model.scalar_reward(out.reward_logits).numpy(), rtol=1e-5, atol=1e-5
        )


def test_predict_rewards_unrolls_a_value_prefix_model_with_its_restarts():
    """A hand-made value-prefix model whose "LSTM" sums the rewards since its last restart: along a
    chain, the predictions are the true value prefixes, which restart after every 5 steps."""
    from ezv2_lite.model.networks import predict_rewards
    from ezv2_lite.model.toy import ChainPrefixModel

    rewards = [1.0, 0.0, 2.0, 0.0, 0.0, 3.0, 1.0, 0.0]
    predicted = predict_rewards(
        ChainPrefixModel(rewards), np.zeros(1, np.float32), np.zeros(8, np.int64)
    )
    np.testing.assert_allclose(predicted, [1, 1, 3, 3, 3, 3, 4, 4])  # by hand: restart after step 5
