"""The sampled-actions view on fixed search outputs."""

import numpy as np
import pytest

from ezv2_lite.config import override
from ezv2_lite.model.toy import BanditModel
from ezv2_lite.presets import preset
from ezv2_lite.search import search
from viz.actions import actions_figure, project_2d, root_action_check_figure, rounds_survived


def trace_for(dim, mode="act"):
    model = BanditModel(action_dim=dim, reward_fn=lambda a: -((a - 0.3) ** 2).sum(-1), sigma=0.5)
    cfg = override(preset("dmc_state"), optim=dict(discount=0.9))
    return search(
        model, np.zeros((1, 1), np.float32), cfg, mode, np.random.default_rng(0), trace_root=0
    ).trace


def test_one_dimensional_actions_against_their_improved_policy_weights():
    trace = trace_for(1)
    fig = actions_figure(trace)
    policy, widened, chosen = fig.data
    assert (policy.name, widened.name, chosen.name) == (
        "policy samples",
        "widened samples",
        "chosen",
    )
    assert len(policy.x) == 4 and len(widened.x) == 12
    np.testing.assert_allclose(policy.x, trace.root_actions[:4, 0])
    np.testing.assert_allclose(widened.y, trace.improved_policy[4:])
    assert chosen.x[0] == trace.root_actions[trace.chosen_slot, 0]
    # DMC schedule: 16 -> 8 -> 4 -> 2, so the survivors' rounds are 0 (8), 1 (4), 2 (2), 3 (2)
    assert sorted(np.bincount(rounds_survived(trace))) == [2, 2, 4, 8]


def test_two_dimensional_actions_in_the_action_plane_and_evaluate_mode_has_no_widened_samples():
    trace = trace_for(2, mode="evaluate")
    fig = actions_figure(trace)
    assert [d.name for d in fig.data] == ["policy samples", "chosen"]
    np.testing.assert_allclose(fig.data[0].y, trace.root_actions[:, 1])
    assert fig.layout.xaxis.title.text == "action[0]"


def test_higher_dimensions_use_two_principal_components():
    trace = trace_for(5)
    fig = actions_figure(trace)
    assert fig.layout.xaxis.title.text == "principal component 1"
    points, _ = project_2d(trace.root_actions)
    assert points.shape == (16, 2)
    assert np.var(points[:, 0]) >= np.var(points[:, 1])


def test_a_discrete_trace_is_refused():
    trace = search(
        BanditModel(rewards=[0.0, 1.0]),
        np.zeros((1, 1), np.float32),
        preset("cartpole"),
        "act",
        np.random.default_rng(0),
        trace_root=0,
    ).trace
    with pytest.raises(ValueError, match="continuous search trace"):
        actions_figure(trace)


def test_the_root_action_check_draws_q_beside_the_returns_that_followed():
    from ezv2_lite.evaluate import RootActionCheck

    check = RootActionCheck(
        actions=np.array([[0.5], [-0.5], [0.0]]),
        predicted_q=np.array([3.0, 1.0, 2.0]),
        visited=np.array([True, True, False]),
        rollout_return=np.array([1.0, 3.0, 2.0]),
        chosen=0,
        horizon=10,
    )
    fig = root_action_check_figure(check)
    returns, q, chosen = fig.data
    # sorted by action
    assert list(returns.x) == [-0.5, 0.0, 0.5] and list(returns.y) == [
        3.0,
        2.0,
        1.0,
    ]
    assert list(q.x) == [0.5, -0.5, 0.0] and list(q.y) == [3.0, 1.0, 2.0]
    assert list(q.marker.color) == ["#1a73e8", "#1a73e8", "white"]  # the unvisited one is open
    assert list(chosen.x) == [0.5, 0.5] and list(chosen.y) == [3.0, 1.0]
    assert "rank correlation -1.00" in fig.layout.title.text  # the search ranks them backwards
    discrete = RootActionCheck(
        actions=np.arange(2),
        predicted_q=np.array([1.0, 2.0]),
        visited=np.ones(2, bool),
        rollout_return=np.array([5.0, 6.0]),
        chosen=1,
        horizon=3,
    )
    fig = root_action_check_figure(discrete)
    assert (
        fig.layout.xaxis.title.text == "root child"
        and "rank correlation 1.00" in fig.layout.title.text
    )


def test_rank_correlation_shares_tied_ranks_and_has_no_value_for_a_constant_side():
    from viz.actions import average_ranks, rank_correlation

    assert average_ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [2.5, 0.0, 2.5, 1.0]
    assert rank_correlation([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert rank_correlation([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(rank_correlation([5.0, 5.0, 5.0], [1, 2, 3]))  # an untrained model: equal Q's
    # ties by index would have called these perfectly ordered; shared ranks give less
    assert rank_correlation([1.0, 1.0, 2.0], [1.0, 2.0, 3.0]) == pytest.approx(np.sqrt(3) / 2)
