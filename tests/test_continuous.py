"""The continuous path: the policy loss choice, the entropy bonus, targets from the target model."""

import numpy as np
import pytest
import torch

from ezv2_lite.config import override
from ezv2_lite.envs import EnvSpec
from ezv2_lite.learner import Learner, policy_loss, squashed_entropy
from ezv2_lite.model.policy import squash_params, squashed_log_prob
from ezv2_lite.presets import preset
from ezv2_lite.targets import Targets


class _Spec:
    def __init__(self, dim):
        self.spec = EnvSpec((3,), "float32", "continuous", None, dim, 1, 1)


def fake_targets(batch, k, dim, rng):
    actions = rng.uniform(-0.9, 0.9, (batch, 2, k, dim)).astype(np.float32)
    weights = rng.dirichlet(np.ones(k), (batch, 2))
    chosen = actions[:, :, 0]
    zeros = np.zeros((batch, 2))
    return Targets(
        zeros[:, :1], zeros, zeros, zeros, np.ones(batch, bool), weights, actions, chosen
    )


@pytest.mark.parametrize("dim, expected", [(1, "full"), (3, "simple")])
def test_auto_loss_is_the_k_sample_loss_for_one_dimension_and_the_chosen_action_otherwise(
    dim, expected
):
    rng = np.random.default_rng(0)
    targets = fake_targets(4, 16, dim, rng)
    raw = torch.randn(4, 2 * dim)
    mu, sigma = squash_params(raw)
    noise = torch.zeros(1, 4, dim)
    config = preset("pendulum")
    inputs = {
        name: torch.as_tensor(getattr(targets, name), dtype=torch.float32)
        for name in ("policies", "sampled_actions", "chosen_actions")
    }
    auto, _ = policy_loss(_Spec(dim), raw, 0, inputs, config, noise)
    actions = torch.as_tensor(targets.sampled_actions[:, 0])
    full = -(
        torch.as_tensor(targets.policies[:, 0], dtype=torch.float32)
        * squashed_log_prob(actions, mu[:, None], sigma[:, None])
    ).sum(-1)
    simple = -squashed_log_prob(torch.as_tensor(targets.chosen_actions[:, 0]), mu, sigma)
    torch.testing.assert_close(auto, full if expected == "full" else simple)
    for mode, reference in (("full", full), ("simple", simple)):
        forced = override(config, optim=dict(continuous_policy_loss=mode))
        loss, _ = policy_loss(_Spec(dim), raw, 0, inputs, forced, noise)
        torch.testing.assert_close(loss, reference)


def test_entropy_bonus_alone_raises_the_policy_entropy():
    torch.manual_seed(0)
    raw = torch.zeros(8, 4, requires_grad=True)  # 2-D actions, sigma = softplus(1) + 0.1
    optimizer = torch.optim.Adam([raw], lr=0.05)
    noise = torch.randn(1024, 8, 2)

    def entropy():
        mu, sigma = squash_params(raw)
        return squashed_entropy(mu, sigma, noise).mean()

    before = entropy().item()
    for _ in range(50):
        optimizer.zero_grad()
        (-entropy()).backward()
        optimizer.step()
    assert entropy().item() > before + 0.1


def test_entropy_matches_a_monte_carlo_estimate_of_minus_log_pi():
    torch.manual_seed(1)
    mu, sigma = torch.tensor([[0.3, -1.0]]), torch.tensor([[0.5, 1.4]])
    estimate = squashed_entropy(mu, sigma, torch.randn(200_000, 1, 2))
    actions = torch.tanh(mu + sigma * torch.randn(200_000, 1, 2)).clamp(-0.999999, 0.999999)
    monte_carlo = -squashed_log_prob(actions, mu, sigma).mean(0)
    assert float(estimate) == pytest.approx(float(monte_carlo), abs=0.02)


def test_reanalysis_for_the_learner_uses_the_lagged_target_model():
    from ezv2_lite.model import build_model
    from ezv2_lite.replay import random_policy_replay
    from ezv2_lite.targets import reanalyze

    config = override(
        preset("pendulum"),
        optim=dict(batch_size=8, target_update_interval=5),
        search=dict(num_simulations=4),
        train=dict(start_transitions=8),
    )
    replay, spec = random_policy_replay(config, 300)
    torch.manual_seed(0)
    learner = Learner(build_model(config, spec), config, torch.device("cpu"))
    batch = replay.sample(8)
    before = reanalyze(replay, batch, learner.target.model, config, 0, np.random.default_rng(0))
    for _ in range(4):  # the online model changes, the target model does not (yet)
        learner.update(batch, before)
    same = reanalyze(replay, batch, learner.target.model, config, 0, np.random.default_rng(0))
    np.testing.assert_array_equal(before.td_values, same.td_values)
    online = reanalyze(replay, batch, learner.model.eval(), config, 0, np.random.default_rng(0))
    assert not np.allclose(before.td_values, online.td_values)
    learner.update(batch, before)  # step 5: the target takes the snapshot from step 0 ... 5
    assert before.sampled_actions.shape == (8, 6, 16, 1) and before.chosen_actions.shape == (
        8,
        6,
        1,
    )
