"""The Gumbel search against answers computed by hand (docs/algorithm.md §3)."""

import json
from itertools import pairwise

import numpy as np
import pytest
import search_pins
import torch

from ezv2_lite.config import override
from ezv2_lite.model.toy import BanditModel, ChainPrefixModel
from ezv2_lite.presets import preset
from ezv2_lite.search import gumbel, search, search_budget
from ezv2_lite.search.sampling import sample_root_actions

PINNED = json.loads(search_pins.PINS.read_text())


def config(simulations, top=None, discount=0.9, **search_kw):
    """A search config with the released constants (c_visit 50, c_scale 0.1, floor 0.01)."""
    search = dict(num_simulations=simulations, num_top_actions=top, value_minmax_delta=0.01)
    return override(preset("cartpole"), optim=dict(discount=discount), search=search | search_kw)


OBS1 = np.zeros((1, 1), np.float32)


# ---------------------------------------------------------------- schedule and budgets


@pytest.mark.parametrize(
    "n, m, expected",
    [
        (32, 16, [(16, 8), (24, 4), (32, 2)]),  # DMC
        (16, 8, [(8, 4), (12, 2), (16, 1)]),  # Atari, 18 actions
        (16, 4, [(8, 2), (16, 1)]),  # Atari, 4 to 15 actions
        (4, 2, [(4, 1)]),  # Atari, fewer than 4 actions
    ],
)
def test_halving_schedule_matches_the_released_search(n, m, expected):
    assert gumbel.halving_schedule(n, m) == expected


def test_atari_budget_rule():
    cfg = preset("atari").search
    spec = lambda n: BanditModel(rewards=[0.0] * n).spec
    assert search_budget(cfg, spec(18)) == (16, 8)
    assert search_budget(cfg, spec(6)) == (16, 4)
    assert search_budget(cfg, spec(3)) == (4, 2)
    assert search_budget(
        preset("dmc_state").search, BanditModel(action_dim=2, reward_fn=None).spec
    ) == (32, 16)


def test_sequential_halving_keeps_best_half_with_1_1_2_visits():
    rng = np.random.default_rng(0)
    rewards = rng.uniform(0, 1, 16)
    model = BanditModel(rewards=rewards)
    result = search(model, OBS1, config(32, 16), "act", rng, trace_root=0)
    visits = np.sort(result.visit_counts[0])[::-1]
    np.testing.assert_array_equal(visits, [4] * 4 + [2] * 4 + [1] * 8)
    survivors = [c for _, c in result.trace.candidates]
    assert [len(c) for c in survivors] == [16, 8, 4, 2]
    # By hand: every arm was visited, so Q = reward (values are 0); the tree's min-max range is
    # that of the rewards; sigma = (50 + 4) * 0.1 * q_hat; the pick is argmax g + sigma.
    q_hat = (rewards - rewards.min()) / (rewards.max() - rewards.min())
    score = result.trace.root_gumbel + 5.4 * q_hat
    assert result.action[0] == max(survivors[-1], key=lambda a: score[a])
    for (_, before), (_, after) in pairwise(result.trace.candidates):
        assert sorted(after) == sorted(sorted(before, key=lambda a: -score[a])[: len(after)])


# ---------------------------------------------------------------- bandits with known rewards


def test_mixed_value_weights_visited_children_by_their_prior_and_the_node_by_one():
    """v_mix = (v + N * sum_visited pi Q / sum_visited pi) / (1 + N), computed by hand: node value
    1, 3 visits, priors 0.5 / 0.3 / 0.2 with Q 2, 4, 100 and the third never visited:
    (1 + 3 * (0.5*2 + 0.3*4) / 0.8) / 4 = 2.3125. With no child visited it is the node's value."""
    prior = torch.tensor([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]], dtype=torch.float64)
    q = torch.tensor([[2.0, 4.0, 100.0], [2.0, 4.0, 100.0]], dtype=torch.float64)
    visits = torch.tensor([[2, 1, 0], [0, 0, 0]])
    v_mix = gumbel.mixed_value(
        torch.tensor([1.0, -7.0], dtype=torch.float64),
        torch.tensor([3.0, 0.0], dtype=torch.float64),
        prior,
        q,
        visits,
    )
    np.testing.assert_allclose(v_mix.numpy(), [2.3125, -7.0])


def test_completed_q_keeps_visited_q_and_fills_the_rest_with_v_mix():
    q = torch.tensor([[2.0, 4.0, 100.0]])
    completed = gumbel.completed_q(q, torch.tensor([[2, 0, 1]]), torch.tensor([0.5]))
    np.testing.assert_array_equal(completed.numpy(), [[2.0, 0.5, 100.0]])


def test_normalize_q_maps_the_range_to_0_1_floors_it_at_delta_and_zeros_an_empty_tree():
    q = torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.001, 5.0], [4.0, 4.0, 4.0]], dtype=torch.float64)
    # the node's own range (gumbel_muzero): [1, 3] -> 0, 0.5, 1; a range of 0.001 floored at 0.01
    own = gumbel.normalize_q(q, None, None, delta=0.01)
    np.testing.assert_allclose(own[0].numpy(), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(own[1].numpy(), [0.0, 0.1, 0.0])
    # the tree's range (ezv2): given bounds, values outside clipped; low > high (no backup yet) -> 0
    low, high = (
        torch.tensor([0.0, 4.0, 1.0], dtype=torch.float64),
        torch.tensor([4.0, 6.0, 0.0], dtype=torch.float64),
    )
    tree = gumbel.normalize_q(q, low, high, delta=0.01)
    np.testing.assert_allclose(
        tree.numpy(), [[0.25, 0.5, 0.75], [0.5, 0.5005, 0.5], [0.0, 0.0, 0.0]]
    )


def test_the_two_q_transforms_by_hand():
    """One node with children a, b (visited, Q = 1 and 3) and c (unvisited); prior 1/2, 1/4, 1/4;
    node value 2 over 4 visits, network value 0; the tree's returns span [0, 4]."""
    t = lambda *x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    stats = gumbel.NodeStats(
        q=t([1.0, 3.0, 0.0]).reshape(1, 3),
        child_visits=torch.tensor([[1, 2, 0]]),
        prior=t([0.5, 0.25, 0.25]).reshape(1, 3),
        node_value=t(2.0),
        node_visits=torch.tensor([4]),
        network_value=t(0.0),
        q_min=t(0.0),
        q_max=t(4.0),
    )
    # ezv2: v_mix = (2 + 4 * (0.5 * 1 + 0.25 * 3) / 0.75) / 5 = (2 + 20/3) / 5 = 26/15
    q_tilde, q_hat = gumbel.ezv2_q_transform(stats, 0.01)
    np.testing.assert_allclose(q_tilde.numpy(), [[1.0, 3.0, 26 / 15]])
    np.testing.assert_allclose(q_hat.numpy(), [[0.25, 0.75, 26 / 60]])
    # gumbel_muzero: v_mix = (0 + 3 * 5/3) / 4 = 1.25 (3 child visits), range of the node's own
    q_tilde, q_hat = gumbel.gumbel_muzero_q_transform(stats, 0.01)
    np.testing.assert_allclose(q_tilde.numpy(), [[1.0, 3.0, 1.25]])
    np.testing.assert_allclose(q_hat.numpy(), [[0.0, 1.0, 0.125]])


def test_search_without_noise_picks_the_best_arm():
    rewards = [0.1, 0.7, 0.3, 0.5]
    model = BanditModel(rewards=rewards)
    result = search(model, OBS1, config(16, 4), "evaluate", np.random.default_rng(0))
    assert result.action[0] == 1
    assert np.argmax(result.improved_policy[0]) == 1


@pytest.mark.parametrize("q_transform", ["ezv2", "gumbel_muzero"])
def test_search_without_noise_picks_the_best_arm_among_the_considered_ones(q_transform):
    rng = np.random.default_rng(1)
    for _ in range(30):
        rewards = rng.uniform(-1, 1, 8)
        model = BanditModel(rewards=rewards)  # uniform prior: the first 4 slots are considered
        result = search(model, OBS1, config(16, 4, q_transform=q_transform), "evaluate", rng)
        assert result.action[0] == np.argmax(rewards[:4])


def test_with_gumbel_noise_the_pick_is_argmax_of_g_plus_logits_plus_sigma_computed_by_hand():
    rng = np.random.default_rng(4)
    for _ in range(30):
        rewards, logits = rng.uniform(-1, 1, 8), rng.normal(0, 1, 8)
        model = BanditModel(rewards=rewards, prior_logits=logits)
        result = search(model, OBS1, config(16, 4), "act", rng, trace_root=0)
        trace = result.trace
        considered = trace.candidates[0][1]
        g = trace.root_gumbel
        assert considered == sorted(range(8), key=lambda a: -(g[a] + logits[a]))[:4]
        # Halving after 8 simulations (2 visits each) keeps 2, after 16 (6 visits each) keeps 1.
        r = rewards[considered]
        q_hat = (rewards - r.min()) / (r.max() - r.min())
        score = {visits: g + logits + (50 + visits) * 0.1 * q_hat for visits in (2, 6)}  # by max N
        two = sorted(considered, key=lambda a: -score[2][a])[:2]
        assert sorted(trace.candidates[1][1]) == sorted(two)
        assert result.action[0] == max(two, key=lambda a: score[6][a])


def test_improved_policy_has_at_least_the_prior_expected_q_over_100_bandits():
    rng = np.random.default_rng(2)
    gains = []
    for _ in range(100):
        n = int(rng.integers(2, 10))
        rewards, logits = rng.normal(0, 1, n), rng.normal(0, 2, n)
        model = BanditModel(rewards=rewards, prior_logits=logits)
        result = search(model, OBS1, config(4 * n, n), "act", rng)
        assert (result.visit_counts[0] > 0).all()  # every arm's Q is known exactly
        prior = np.exp(logits - logits.max())
        prior /= prior.sum()
        gains.append(result.improved_policy[0] @ rewards - prior @ rewards)
    assert min(gains) >= -1e-9
    assert np.mean(gains) > 0.1


def test_root_value_is_the_mean_of_the_initial_value_and_backed_up_returns():
    # Two arms, one simulation each: returns r_a + gamma * v.
    model = BanditModel(rewards=[1.0, 3.0], value=2.0, root_value=0.5)
    result = search(model, OBS1, config(2, 2, discount=0.9), "evaluate", np.random.default_rng(0))
    expected = (0.5 + (1.0 + 0.9 * 2.0) + (3.0 + 0.9 * 2.0)) / 3
    assert result.root_value[0] == pytest.approx(expected)
    assert result.network_value[0] == pytest.approx(0.5)


def test_root_value_of_a_deeper_tree_computed_by_hand():
    # One action, so the search builds a chain: sim 1 reaches depth 1, sim 2 depth 2, sim 3 depth 3.
    # Rewards 1 at every step after the first (deep_reward), value 0.5 at every leaf, gamma 0.5.
    model = BanditModel(rewards=[2.0], value=0.5, root_value=1.0, deep_reward=1.0)
    result = search(model, OBS1, config(3, 1, discount=0.5), "evaluate", np.random.default_rng(0))
    g1 = 2.0 + 0.5 * 0.5  # r1 + g v
    g2 = 2.0 + 0.5 * (1.0 + 0.5 * 0.5)  # r1 + g (r2 + g v)
    g3 = 2.0 + 0.5 * (1.0 + 0.5 * (1.0 + 0.5 * 0.5))
    assert result.root_value[0] == pytest.approx((1.0 + g1 + g2 + g3) / 4)


def test_value_prefix_rewards_reset_at_depth_multiples_of_five():
    true_rewards = np.arange(1.0, 13.0)  # reward d at depth d
    model = ChainPrefixModel(true_rewards)
    result = search(model, OBS1, config(12, 1), "evaluate", np.random.default_rng(0), trace_root=0)
    trace = result.trace
    depth_of = {int(d): i for i, d in enumerate(trace.depth)}
    recovered = [trace.reward[depth_of[d]] for d in range(1, 13)]
    np.testing.assert_allclose(recovered, true_rewards)


def test_same_seed_same_search():
    rewards = np.linspace(0, 1, 6)
    runs = [
        search(
            BanditModel(rewards=rewards),
            np.zeros((5, 1), np.float32),
            config(8, 4),
            "act",
            np.random.default_rng(3),
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].action, runs[1].action)
    np.testing.assert_array_equal(runs[0].improved_policy, runs[1].improved_policy)


# ---------------------------------------------------------------- continuous


def continuous_model(dim=2, target=0.5):
    return BanditModel(
        action_dim=dim, reward_fn=lambda a: -((a - target) ** 2).sum(-1), mu=0.0, sigma=0.3
    )


def test_root_samples_come_4_from_the_policy_and_12_widened_in_act_and_16_from_the_policy_in_evaluate():
    cfg = preset("dmc_state").search
    batch, dim = 4000, 1
    mu, sigma = torch.full((batch, dim), 0.2), torch.full((batch, dim), 0.15)
    rng = np.random.default_rng(0)
    act = sample_root_actions(mu, sigma, cfg, "act", rng).numpy()
    evaluate = sample_root_actions(mu, sigma, cfg, "evaluate", rng).numpy()
    assert act.shape == (batch, 16, dim) and np.abs(act).max() <= 0.999
    pre_tanh = np.arctanh(act[..., 0])
    assert pre_tanh[:, :4].mean() == pytest.approx(0.2, abs=0.01)
    assert pre_tanh[:, :4].std() == pytest.approx(0.15, rel=0.05)
    assert pre_tanh[:, 4:].std() == pytest.approx(0.45, rel=0.05)  # 3 x sigma
    assert np.arctanh(evaluate[..., 0]).std() == pytest.approx(0.15, rel=0.05)


def test_continuous_search_expands_two_children_below_the_root_and_picks_a_sampled_action():
    model = continuous_model()
    cfg = override(preset("dmc_state"), optim=dict(discount=0.9))
    rng = np.random.default_rng(0)
    result = search(model, np.zeros((3, 1), np.float32), cfg, "act", rng, trace_root=1)
    assert result.sampled_actions.shape == (3, 16, 2)
    assert result.improved_policy.shape == (3, 16)
    for b in range(3):
        assert any(np.array_equal(result.action[b], a) for a in result.sampled_actions[b])
    trace = result.trace
    for node in range(1, len(trace.parent)):
        children = np.flatnonzero(trace.parent == node)
        assert len(children) <= 2 and set(trace.slot[children]) <= {0, 1}
    # The chosen action is the best sampled one among the final survivors.
    survivors = trace.candidates[-1][1]
    rewards = -((trace.root_actions - 0.5) ** 2).sum(-1)
    assert result.action_slot[1] == max(survivors, key=lambda a: rewards[a])


def test_continuous_roots_have_uniform_priors_and_no_noise_by_default():
    model = continuous_model()
    result = search(model, OBS1, preset("dmc_state"), "act", np.random.default_rng(0), trace_root=0)
    np.testing.assert_allclose(result.trace.root_prior, np.full(16, 1 / 16))
    assert not result.trace.root_gumbel.any()


@pytest.mark.parametrize("name", ["dmc_state", "cartpole"])
def test_fused_inference_gives_the_readable_search(name):
    """runtime.fused_inference changes how the network is evaluated, not what the search does."""
    import ezv2_lite.accel  # noqa: F401  (registers the fused step)

    model, readable = search_pins.network(name), search_pins.config(name)  # random non-zero weights
    obs = np.random.default_rng(0).standard_normal((6, *model.spec.obs_shape)).astype(np.float32)
    results = [
        search(model, obs, config, "act", np.random.default_rng(1))
        for config in (readable, override(readable, runtime=dict(fused_inference=True)))
    ]
    np.testing.assert_array_equal(results[0].action_slot, results[1].action_slot)
    np.testing.assert_allclose(results[0].improved_policy, results[1].improved_policy, atol=1e-4)
    np.testing.assert_allclose(results[0].root_value, results[1].root_value, rtol=1e-4, atol=1e-4)


def _imports_accel(source: str) -> bool:
    import ast

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import) and any("accel" in a.name for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (
            "accel" in (node.module or "") or any(a.name == "accel" for a in node.names)
        ):
            return True
    return False


def test_the_readable_package_never_imports_the_fast_paths_and_says_how_to_get_them():
    """ezv2_lite.accel is composed from above: only the command line (and a sweep's runs, each a
    `train` command in a Ray worker) and the benchmarks (`ezv2-lite bench`) import it. Without it, asking for a fast
    path is a clear error, not a silent readable run."""
    import subprocess
    import sys
    from pathlib import Path

    package = Path(__file__).parents[1] / "ezv2_lite"
    importers = sorted(
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if "accel" not in p.parts and _imports_accel(p.read_text())
    )
    assert importers == ["tools/bench.py", "tools/cli.py", "tools/sweep.py"]
    probe = (
        "import numpy as np; from ezv2_lite.config import override; from ezv2_lite.presets import preset; "
        "from ezv2_lite.model.toy import BanditModel; from ezv2_lite.search import search; "
        "import sys; assert 'ezv2_lite.accel' not in sys.modules; "
        "search(BanditModel(rewards=[0.0, 1.0]), np.zeros((1, 1), np.float32), "
        "override(preset('cartpole'), runtime=dict(fused_inference=True)), 'act', np.random.default_rng(0))"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode != 0 and "import ezv2_lite.accel" in run.stderr


# ---------------------------------------------------------------- pinned searches


@pytest.mark.parametrize("case", [f"{n}/{m}/{s}" for n, m, s in search_pins.cases()])
def test_seeded_searches_on_preset_networks_are_the_ones_pinned(case):
    """The searches of tests/search_pins.py (full-size cartpole, pendulum, dmc_state and
    atari_small networks with random weights; act, reanalyze, evaluate) choose the same
    actions with the same visits, and give the same targets and values, as when they were
    recorded from the NumPy tree this torch tree replaced (commit in the file)."""
    name, mode, seed = case.split("/")
    want = PINNED["runs"][case]
    got = search_pins.run(name, mode, int(seed))
    for key in ("action_slot", "visit_counts", "trace_paths", "trace_parent"):
        assert got[key] == want[key], key
    for key in ("action", "improved_policy", "root_value"):  # float32 networks: thread counts
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-7, err_msg=key)


@pytest.mark.parametrize("top", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("simulations", [8, 16, 32])
@pytest.mark.parametrize("mode", ["act", "reanalyze", "evaluate"])
def test_the_continuous_policy_target_puts_no_mass_on_samples_the_search_never_visited(
    top, simulations, mode
):
    """K = 16 sampled root actions with uniform priors: whatever m and N, an action the
    search never evaluated gets no share of the improved-policy target."""
    model = continuous_model(dim=1)
    for batch in (5, 1):
        cfg = override(
            preset("dmc_state"),
            optim=dict(discount=0.9),
            search=dict(num_simulations=simulations, num_top_actions=top),
        )
        result = search(
            model, np.zeros((batch, 1), np.float32), cfg, mode, np.random.default_rng(3)
        )
        unvisited = result.visit_counts == 0
        assert result.improved_policy.shape == (batch, 16)
        np.testing.assert_allclose(result.improved_policy.sum(-1), 1.0)
        if top < 16 or simulations < 16:
            assert unvisited.any()  # the case that matters is exercised
        assert np.abs(np.where(unvisited, result.improved_policy, 0.0)).max() == 0.0


def test_with_every_sampled_action_visited_the_continuous_target_keeps_all_of_them():
    """The released setting (m = K = 16, N = 32) visits all 16 sampled actions, so the target
    is pi' = softmax(logits + sigma) over all of them: every one keeps a share."""
    model = continuous_model(dim=1)
    cfg = override(preset("dmc_state"), optim=dict(discount=0.9))
    result = search(model, np.zeros((3, 1), np.float32), cfg, "act", np.random.default_rng(0))
    assert (result.visit_counts > 0).all()
    assert (result.improved_policy > 0).all()
    np.testing.assert_allclose(result.improved_policy.sum(-1), 1.0)
    policy = torch.tensor([[0.2, 0.3, 0.5, 0.0]], dtype=torch.float64)  # slot 4 does not exist
    assert torch.equal(gumbel.visited_only(policy, torch.tensor([[1, 2, 1, 0]])), policy)
    np.testing.assert_allclose(
        gumbel.visited_only(policy, torch.tensor([[1, 0, 1, 0]])),
        [[0.2 / 0.7, 0.0, 0.5 / 0.7, 0.0]],
    )


# ---------------------------------------------------------------- the depth bound of a simulation


@pytest.mark.parametrize(
    "n, m", [(32, 16), (16, 8), (16, 4), (4, 2), (8, 16), (12, 3), (50, 8), (7, 1)]
)
def test_every_simulation_reaches_an_unexpanded_slot_within_the_depth_the_host_planned(
    n, m, monkeypatch
):
    """The search walks down a fixed number of levels, planned on the host from the halving
    schedule alone (gumbel.root_visits_before): the root child of simulation s has been
    visited exactly that often before, and the walk always ends at a slot not yet expanded."""
    import importlib

    search_module = importlib.import_module("ezv2_lite.search.search")
    simulate, checked = search_module.simulate, []

    def checked_simulate(s, depth_bound):
        parent, slot, path = simulate(s, depth_bound)
        root_slot = gumbel.root_choice(s.candidates, s.tree.child_visits[:, 0])
        assert (s.tree.child_visits[s.tree.roots, 0, root_slot] == depth_bound).all()
        assert (s.tree.children[s.tree.roots, parent, slot] == -1).all()
        checked.append(depth_bound)
        return parent, slot, path

    monkeypatch.setattr(search_module, "simulate", checked_simulate)
    rng = np.random.default_rng(n * 100 + m)
    for _ in range(5):
        arms = max(m, 3)
        model = BanditModel(
            rewards=rng.normal(0, 1, arms),
            prior_logits=rng.normal(0, 1, arms),
            deep_reward=0.3,
            value=0.2,
        )
        search(model, np.zeros((6, 1), np.float32), config(n, m), "act", rng)
    assert len(checked) == 5 * n and max(checked) >= (1 if n > m else 0)
