"""Reanalysis targets against values computed by hand (docs/algorithm.md §4)."""

import numpy as np
import torch
import torch.nn as nn

from ezv2_lite.config import override
from ezv2_lite.envs import EnvSpec
from ezv2_lite.model import build_model
from ezv2_lite.model.networks import ModelOutput
from ezv2_lite.presets import preset
from ezv2_lite.replay import Replay
from ezv2_lite.targets import (
    fresh_mask,
    mixed_value_targets,
    reanalyze,
    reward_targets,
    td_value_targets,
)

SPEC = EnvSpec((1,), "float32", "discrete", 2, None, 1, 1)


class ObservedValue(nn.Module):
    """A target model whose value of an observation is the observation itself."""

    spec = SPEC

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def initial(self, obs):
        return ModelOutput(obs, obs.float(), torch.zeros(len(obs), 2))

    def scalar_value(self, logits):
        return logits[:, 0]


def cfg(**optim):
    return override(
        preset("cartpole"), optim=dict(discount=0.5, td_steps=2, unroll_steps=3) | optim
    )


def episode(replay, observations, rewards, terminal, slot=0):
    replay.start_episode(slot, np.array([observations[0]], np.float32), 0.0)
    for t, r in enumerate(rewards):
        replay.add(slot, 0, r, r, np.array([observations[t + 1]], np.float32), 0.0)
    replay.end_episode(slot, terminal)


def test_td_targets_by_hand_with_a_terminal_and_with_a_time_limit():
    replay = Replay(cfg(), SPEC)
    obs, rewards = [10.0, 20.0, 30.0, 40.0], [1.0, 2.0, 3.0]
    episode(replay, obs, rewards, terminal=True)
    episode(replay, obs, rewards, terminal=False)
    batch = replay.windows(np.array([0, 3]))  # t = 0 of each episode, positions 0..3
    z = td_value_targets(replay, batch, ObservedValue())
    # gamma 0.5, n 2: z_0 = 1 + 0.5*2 + 0.25*V(o_2)
    terminal = [1 + 1 + 0.25 * 30, 2 + 1.5 + 0.0, 3 + 0.0, 0.0]
    truncated = [1 + 1 + 0.25 * 30, 2 + 1.5 + 0.25 * 40, 3 + 0.5 * 40, 40.0]
    np.testing.assert_allclose(z, [terminal, truncated])


def test_td_targets_bootstrap_inside_a_long_episode_and_zero_past_the_end():
    replay = Replay(cfg(), SPEC)
    episode(replay, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1.0] * 6, terminal=True)
    batch = replay.windows(np.array([4]))  # t = 4: positions 4, 5, 6 (= T), 7 (past the end)
    z = td_value_targets(replay, batch, ObservedValue())
    np.testing.assert_allclose(z[0], [1 + 0.5 + 0.0, 1 + 0.0, 0.0, 0.0])
    batch = replay.windows(np.array([1]))
    z = td_value_targets(replay, batch, ObservedValue())
    np.testing.assert_allclose(
        z[0], [1.5 + 0.25 * o for o in (3.0, 4.0, 5.0, 6.0)][:3] + [1.5 + 0.0]
    )


def test_reward_and_value_prefix_targets():
    replay = Replay(cfg(), SPEC)
    episode(replay, [0.0] * 5, [1.0, 2.0, 4.0, 8.0], terminal=True)
    batch = replay.windows(np.array([1, 2]))
    np.testing.assert_allclose(reward_targets(replay, batch, False, 5), [[2, 4, 8], [4, 8, 0]])
    np.testing.assert_allclose(reward_targets(replay, batch, True, 5), [[2, 6, 14], [4, 12, 12]])
    # with an LSTM horizon of 2 the running sum restarts at k = 2
    np.testing.assert_allclose(reward_targets(replay, batch, True, 2), [[2, 6, 8], [4, 12, 0]])


def test_value_prefix_targets_and_the_trees_edge_rewards_agree_across_a_reset():
    """A model that predicts exactly the value-prefix targets (resets every 5 steps) gives the
    tree back the true per-step rewards, before and after the reset."""
    from ezv2_lite.model.toy import ChainPrefixModel
    from ezv2_lite.search import search

    rewards = [3.0, -1.0, 0.5, 2.0, 0.0, 4.0, 1.0, -2.0]  # crosses the reset at step 5
    replay = Replay(cfg(unroll_steps=8), SPEC)
    episode(replay, [0.0] * 9, rewards, terminal=True)
    prefixes = reward_targets(replay, replay.windows(np.array([0])), True, 5)[0]
    np.testing.assert_allclose(prefixes, [3.0, 2.0, 2.5, 4.5, 4.5, 4.0, 5.0, 3.0])

    class PredictsTheTargets(ChainPrefixModel):
        """Value prefix at depth d = the target prefix of step d - 1, whatever the hidden state."""

        def recurrent(self, latent, action, hidden=None):
            out = super().recurrent(latent, action, hidden)
            depth = out.latent[:, 0].long()
            out.reward_logits = torch.as_tensor(prefixes, dtype=torch.float32)[depth - 1][:, None]
            return out

    model = PredictsTheTargets(np.zeros(len(rewards)))
    config = override(preset("cartpole"), search=dict(num_simulations=8, num_top_actions=1))
    trace = search(
        model,
        np.zeros((1, 1), np.float32),
        config,
        "evaluate",
        np.random.default_rng(0),
        trace_root=0,
    ).trace
    depth_of = {int(d): i for i, d in enumerate(trace.depth)}
    np.testing.assert_allclose([trace.reward[depth_of[d]] for d in range(1, 9)], rewards)


def test_mixed_rule_switches_exactly_at_both_thresholds():
    config = cfg(mixed_value_start_step=100, mixed_value_window=10)
    td, sve = np.zeros((3, 2)), np.ones((3, 2))
    fresh = fresh_mask(np.array([89, 90, 99]), num_transitions=100, window=10)
    np.testing.assert_array_equal(fresh, [False, True, True])
    values, use_td = mixed_value_targets(td, sve, fresh, train_step=99, config=config)
    assert use_td.all() and (values == 0).all()  # before the start step: TD for all
    values, use_td = mixed_value_targets(td, sve, fresh, train_step=100, config=config)
    np.testing.assert_array_equal(use_td, [False, True, True])
    np.testing.assert_array_equal(values[:, 0], [1, 0, 0])  # stale data takes the SVE
    values, _ = mixed_value_targets(
        td, sve, fresh, 100, override(config, optim=dict(value_target="td"))
    )
    assert (values == 0).all()
    values, _ = mixed_value_targets(
        td, sve, fresh, 0, override(config, optim=dict(value_target="sve"))
    )
    assert (values == 1).all()


def test_reanalysis_targets_have_the_documented_shapes_and_come_from_the_target_model():
    config = override(
        preset("dmc_state"),
        env=dict(suite="gym", name="Pendulum-v1"),
        optim=dict(batch_size=4),
        train=dict(start_transitions=4),
        search=dict(num_simulations=4),
        model=dict(nonnegative_values=False),
    )
    spec = EnvSpec((3,), "float32", "continuous", None, 1, 1, 1)
    replay = Replay(config, spec)
    rng = np.random.default_rng(0)
    replay.start_episode(0, rng.normal(size=3).astype(np.float32), 0.0)
    for _ in range(12):
        replay.add(
            0,
            rng.uniform(-1, 1, 1).astype(np.float32),
            0.1,
            0.1,
            rng.normal(size=3).astype(np.float32),
            0.0,
        )
    replay.end_episode(0, terminal=True)
    batch = replay.sample(4)
    torch.manual_seed(0)
    target = build_model(config, spec).eval()
    other = build_model(config, spec).eval()
    t1 = reanalyze(replay, batch, target, config, 0, np.random.default_rng(1))
    t2 = reanalyze(replay, batch, target, config, 0, np.random.default_rng(1))
    t3 = reanalyze(replay, batch, other, config, 0, np.random.default_rng(1))
    U1 = config.optim.unroll_steps + 1
    assert t1.policies.shape == (4, U1, 16) and t1.sampled_actions.shape == (4, U1, 16, 1)
    assert t1.chosen_actions.shape == (4, U1, 1) and t1.values.shape == (4, U1)
    assert t1.rewards.shape == (4, U1 - 1)
    np.testing.assert_array_equal(t1.search_values, t2.search_values)  # same model and seed
    assert not np.allclose(t1.td_values, t3.td_values)  # a different model
    # positions past the end have no state: zero policy and value targets
    gone = batch.exists == 0
    assert (t1.policies[gone] == 0).all() and (t1.search_values[gone] == 0).all()
    sums = t1.policies.sum(-1)[batch.exists == 1]
    np.testing.assert_allclose(sums[sums > 0], 1.0, rtol=1e-6)
