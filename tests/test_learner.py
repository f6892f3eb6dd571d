"""The learner: the loss decreases on a fixed batch, gradient scaling, schedule, target lag."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ezv2_lite.config import override
from ezv2_lite.learner import Learner, TargetModel, compute_loss, make_optimizer, scale_gradient
from ezv2_lite.model import build_model
from ezv2_lite.presets import preset
from ezv2_lite.replay import random_policy_replay
from ezv2_lite.targets import reanalyze


def _learner_and_batch(config):
    """A learner on a fresh model, one batch of a random-policy replay and its targets."""
    replay, spec = random_policy_replay(config, 200)
    learner = Learner(build_model(config, spec), config, torch.device("cpu"))
    batch = replay.sample(config.optim.batch_size)
    targets = reanalyze(replay, batch, learner.target.model, config, 0, np.random.default_rng(0))
    return learner, batch, targets


@pytest.mark.slow
def test_learner_overfits_one_fixed_batch():
    torch.manual_seed(0)
    config = override(preset("cartpole"), optim=dict(batch_size=32, warmup_steps=1))
    learner, batch, targets = _learner_and_batch(config)
    first = learner.update(batch, targets)[0].read()
    for _ in range(199):
        losses, priorities = learner.update(batch, targets)
    last = losses.read()
    assert last.total < 0.5 * first.total, (first, last)
    assert priorities.shape == (32,) and (priorities > 0).all()


def test_gradient_into_the_kth_unrolled_state_is_halved_each_step():
    torch.manual_seed(0)
    dynamics = torch.nn.Linear(4, 4)
    s0 = torch.randn(2, 4, requires_grad=True)
    grads = []
    for k in range(1, 5):
        # loss on step k only; compare the gradient at s0 with and without the scaling
        states = [s0]
        for _ in range(k):
            states.append(scale_gradient(dynamics(states[-1]), 0.5))
        scaled = torch.autograd.grad(states[-1].sum(), s0)[0]
        plain = s0
        for _ in range(k):
            plain = dynamics(plain)
        unscaled = torch.autograd.grad(plain.sum(), s0)[0]
        grads.append((scaled / unscaled).mean().item())
    np.testing.assert_allclose(grads, [0.5, 0.25, 0.125, 0.0625], rtol=1e-5)
    x = torch.ones(3)
    assert torch.equal(scale_gradient(x, 0.5), x)  # the forward value is unchanged


SMALL_IMAGE_MODEL = dict(
    channels=8,
    head_channels=4,
    action_embedding_dim=4,
    lstm_hidden=16,
    projection_hidden=32,
    projection_dim=32,
    prediction_hidden=16,
)


def _unroll_by_hand(model, batch, k):
    """s_0 .. s_k, the model unrolled k steps from the batch's first observations with plain
    autograd: no gradient scaling anywhere."""
    obs = batch.observations
    states = [model.initial(obs[:, 0]).latent]
    for j in range(k):
        action = torch.as_tensor(batch.actions[:, j]).long()
        states.append(model.recurrent(states[-1], action).latent)
    return states


@pytest.mark.parametrize("mode, halvings", [("all", 0), ("dynamics", -1)])
def test_a_loss_at_depth_k_reaches_the_encoder_halved_once_per_unrolled_state(mode, halvings):
    """As released (`all`), the gradient from unroll step k's loss reaches the encoder x 0.5^k:
    every unrolled state s_1..s_k halves all the gradient passing through it. MuZero's
    pseudocode (`dynamics`) does not halve s_k's own heads: x 0.5^(k-1). Expected values by
    hand: the same reward loss unrolled with plain autograd, times the factor."""
    torch.manual_seed(0)
    config = override(
        preset("cartpole"),
        optim=dict(
            batch_size=8,
            state_gradient=mode,
            reward_coeff=1.0,
            value_coeff=0.0,
            policy_coeff=0.0,
            consistency_coeff=0.0,
        ),
    )
    learner, batch, targets = _learner_and_batch(config)
    model = learner.model
    model.normalizer.eval()  # fixed observation statistics for both computations
    with torch.no_grad():  # the reward head starts at zero: give it weights that pass gradient
        for p in model.reward_head.parameters():
            p.add_(0.1 * torch.randn_like(p))
    U = config.optim.unroll_steps
    weights = torch.as_tensor(batch.weights, dtype=torch.float32)
    reward_targets = model.reward_support.encode(
        torch.as_tensor(targets.rewards, dtype=torch.float32)
    )
    ratios = []
    for k in range(1, U + 1):
        only_k = np.zeros_like(batch.mask)  # the loss of depth k alone
        only_k[:, k - 1] = batch.mask[:, k - 1]
        model.zero_grad()
        loss, _, _ = compute_loss(
            model, dataclasses.replace(batch, mask=only_k), targets, config, torch.device("cpu")
        )
        loss.backward()
        ours = torch.cat([p.grad.flatten() for p in model.encoder.parameters()])
        model.zero_grad()
        s_k = _unroll_by_hand(model, batch, k)[-1]
        ce = F.cross_entropy(model.reward_head(s_k), reward_targets[:, k - 1], reduction="none")
        (weights * torch.as_tensor(only_k[:, k - 1]) * ce).mean().backward()
        plain = torch.cat([p.grad.flatten() for p in model.encoder.parameters()])
        assert plain.abs().max() > 1e-6
        torch.testing.assert_close(ours, 0.5 ** (k + halvings) * plain, rtol=1e-4, atol=1e-7)
        ratios.append(float(ours.norm() / plain.norm()))
    np.testing.assert_allclose(ratios, [0.5 ** (k + halvings) for k in range(1, U + 1)], rtol=1e-4)


@pytest.mark.parametrize("mode", ["per_step", "pooled"])
def test_consistency_targets_are_normalised_with_the_statistics_of_their_own_step(mode):
    """Batch norm in train mode normalises with the statistics of the batch it is given. As
    released (`per_step`), each unroll step's real observations are represented as a batch of
    B; `pooled` represents all B x U together. Expected by hand: the consistency term, each
    way, from the model's own calls; the two differ, so the term tells them apart."""
    torch.manual_seed(0)
    config = override(
        preset("catch"),
        model=SMALL_IMAGE_MODEL,
        optim=dict(batch_size=8, augmentation=False, consistency_targets=mode),
        train=dict(start_transitions=8),
    ).resolved()
    learner, batch, targets = _learner_and_batch(config)
    model = learner.model
    U = config.optim.unroll_steps
    later = batch.observations[:, 1:]
    seen = []  # the batch sizes the encoder's first batch norm normalises
    first_bn = next(m for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))
    first_bn.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    _, _, terms = compute_loss(model, batch, targets, config, torch.device("cpu"))
    assert seen == ([8] + [8] * U if mode == "per_step" else [8, 8 * U])

    with torch.no_grad():
        states = _unroll_by_hand(model, batch, U)[1:]
        per_step = [model.project(model.represent(later[:, k]), with_head=False) for k in range(U)]
        pooled = model.project(model.represent(later.flatten(0, 1)), with_head=False).view(8, U, -1)
        mask = torch.as_tensor(batch.mask, dtype=torch.float32)

        def term(target):  # mean over the batch of sum_k mask_k (1 - cos)
            cos = [
                F.cosine_similarity(model.project(s), target[k], dim=-1, eps=1e-5)
                for k, s in enumerate(states)
            ]
            return float((mask * (1 - torch.stack(cos, 1))).sum(1).mean())

        expected = {"per_step": term(per_step), "pooled": term(pooled.unbind(1))}
    assert abs(expected["per_step"] - expected["pooled"]) > 1e-4
    assert float(terms["consistency"]) == pytest.approx(expected[mode], rel=1e-4)


def test_learning_rate_warms_up_then_decays_in_steps():
    config = override(preset("atari"), optim=dict(lr=0.2, warmup_steps=10, lr_decay_steps=100))
    model = torch.nn.Linear(2, 2)
    opt, schedule = make_optimizer(model, config)
    lrs = []
    for _ in range(215):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    assert lrs[0] == pytest.approx(0.02) and lrs[9] == pytest.approx(0.2)
    assert lrs[109] == pytest.approx(0.2) and lrs[110] == pytest.approx(0.02)
    assert lrs[210] == pytest.approx(0.002)
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["momentum"] == 0.9
    adam, _ = make_optimizer(model, preset("dmc_state"))
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["weight_decay"] == 2e-5


def test_target_model_lags_the_online_model_by_200_to_400_steps():
    online = torch.nn.Linear(1, 1, bias=False)
    target = TargetModel(online, interval=200)
    history = {}
    for step in range(1, 801):
        with torch.no_grad():
            online.weight.fill_(float(step))
        history[step] = step
        target.step(step, online)
        value = float(target.model.weight)
        lag = step - value
        if step >= 400:
            assert 200 <= lag < 400, (step, value)
    assert float(target.model.weight) == 600.0  # after step 800: the snapshot from step 600


@pytest.mark.parametrize(
    "name, env",
    [
        ("atari", dict(name="Pong", image_size=32)),
        ("dmc_image_small", dict(name="cartpole-balance", image_size=32)),
    ],
)
def test_the_image_learner_with_augmentation_overfits_one_fixed_batch(name, env):
    """Pixels end to end through the learner: Atari's value prefix with its LSTM resets, DMC's
    continuous policy loss, both with random shift + intensity on every step's images."""
    torch.manual_seed(0)
    config = override(
        preset(name),
        env=env,
        model=SMALL_IMAGE_MODEL,
        optim=dict(optimizer="adam", lr=3e-3, weight_decay=0.0, batch_size=8, warmup_steps=1),
        train=dict(start_transitions=8),
    ).resolved()
    assert config.optim.augmentation
    replay, spec = random_policy_replay(config, 60)
    learner = Learner(build_model(config, spec), config, torch.device("cpu"))
    batch = replay.sample(8)
    targets = reanalyze(replay, batch, learner.target.model, config, 0, np.random.default_rng(0))
    first = learner.update(batch, targets)[0].read()
    for _ in range(39):
        last = learner.update(batch, targets)[0].read()
    assert np.isfinite(last.total)
    # measured: about 0.57 (Atari) and 0.58 (DMC) of the first step's value + reward loss
    assert last.value + last.reward < 0.75 * (first.value + first.reward), (first, last)


# ----------------------------------------------------------------------- diagnostics


def test_root_policy_entropy_and_sigma_read_off_known_policies():
    from ezv2_lite.learner import root_policy_entropy, root_policy_sigma

    uniform = torch.zeros(5, 6)  # 6 equally likely actions
    assert float(root_policy_entropy(uniform)) == pytest.approx(np.log(6))
    raw_sigma = np.log(np.expm1(1.9)) - 1  # softplus(raw + 1) + 0.1 = 2.0
    continuous = torch.cat([torch.zeros(5, 2), torch.full((5, 2), raw_sigma)], -1)
    assert float(root_policy_sigma(continuous)) == pytest.approx(2.0, rel=1e-5)


def test_target_diagnostics_average_over_positions_with_a_target():
    from ezv2_lite.learner import target_diagnostics
    from ezv2_lite.targets import Targets

    policies = np.zeros((2, 3, 4))
    policies[:, :2] = 0.25  # the last position of each sample has none
    unvisited = np.array([[0.5, 0.0, 0.0], [0.1, 0.2, 0.0]])
    zeros = np.zeros((2, 3))
    targets = Targets(
        zeros[:, :2],
        zeros,
        zeros,
        zeros,
        np.array([True, False]),
        policies,
        unvisited_mass=unvisited,
    )
    diagnostics = target_diagnostics(targets)
    assert diagnostics["unvisited_target_mass"] == pytest.approx((0.5 + 0.0 + 0.1 + 0.2) / 4)
    assert diagnostics["sve_fraction"] == pytest.approx(0.5)


def test_a_learner_step_logs_losses_by_unroll_step_that_add_up():
    config = override(preset("cartpole"), optim=dict(batch_size=8))
    learner, batch, targets = _learner_and_batch(config)
    info = learner.update(batch, targets)[0].read()
    U = config.optim.unroll_steps
    assert len(info.value_by_step) == U + 1 and len(info.reward_by_step) == U
    assert sum(info.value_by_step) == pytest.approx(info.value, rel=1e-5)
    assert sum(info.reward_by_step) == pytest.approx(info.reward, rel=1e-5)
    assert 0 < info.root_policy_entropy <= np.log(2) + 1e-6 and info.root_policy_sigma is None
    # before the mixed start
    assert 0 <= info.unvisited_target_mass <= 1 and info.sve_fraction == 0.0
