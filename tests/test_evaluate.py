"""Evaluation: finished episodes stop costing searches, and a stop request ends it promptly."""

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

import ezv2_lite.evaluate as evaluation
from ezv2_lite.config import override
from ezv2_lite.envs import probe_spec
from ezv2_lite.model import build_model
from ezv2_lite.presets import preset
from ezv2_lite.train import train


def _cartpole_model(config):
    return build_model(config, probe_spec(config.env, 0)).eval()


def _recording_search(monkeypatch, on_call=None):
    batches = []
    real = evaluation.search

    def recording(model, observations, *args, **kw):
        batches.append(len(observations))
        if on_call is not None:
            on_call(len(batches))
        return real(model, observations, *args, **kw)

    monkeypatch.setattr(evaluation, "search", recording)
    return batches


def test_finished_episodes_are_neither_searched_nor_stepped(monkeypatch):
    config = override(preset("cartpole"), search=dict(num_simulations=4))
    batches = _recording_search(monkeypatch)
    returns = evaluation.evaluate(_cartpole_model(config), config, episodes=6, seed=3)
    # CartPole pays 1 per step, so each return is its episode's length in agent steps
    lengths = returns.astype(int)
    assert len(batches) == lengths.max()
    assert sum(batches) == lengths.sum()  # one root per running episode per step
    assert batches == sorted(batches, reverse=True) and batches[0] == 6
    assert len(set(lengths)) > 1  # the episodes did end at different times


def test_a_stop_request_ends_an_evaluation_at_the_next_step(monkeypatch):
    config = override(preset("cartpole"), search=dict(num_simulations=4))
    batches = _recording_search(monkeypatch)
    asked = []
    with pytest.raises(evaluation.EvaluationStopped, match="still running"):
        evaluation.evaluate(
            _cartpole_model(config),
            config,
            episodes=4,
            seed=0,
            should_stop=lambda: asked.append(1) or len(asked) > 3,
        )
    assert len(batches) == 3


def test_sigterm_during_an_evaluation_ends_the_run_and_a_resume_evaluates_first(
    tmp_path, monkeypatch
):
    """The run's SIGTERM handler only sets a flag: the evaluation must look at it. The resumed
    run then plays the stopped evaluation before it collects anything more."""
    config = override(
        preset("cartpole"),
        search=dict(num_simulations=4),
        optim=dict(batch_size=16),
        model=dict(latent_dim=16, hidden_dim=16),
        train=dict(
            total_env_steps=400,
            start_transitions=64,
            train_ratio=0.1,
            eval_every_env_steps=200,
            eval_episodes=4,
            num_envs=2,
        ),
    )
    batches = _recording_search(
        monkeypatch, on_call=lambda n: n == 2 and os.kill(os.getpid(), signal.SIGTERM)
    )
    run = Path(train(config, tmp_path / "run", progress=False))
    assert len(batches) == 2  # no search after the signal was seen
    read = lambda: [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert not any("eval_return_mean" in m for m in read())
    state = json.loads((run / "checkpoints" / "latest" / "state.json").read_text())
    assert state["counters"]["agent_steps"] == 200 and state["counters"]["next_eval"] == 200

    train(config, run, resume=True, progress=False)
    evals = [m for m in read() if "eval_return_mean" in m]
    assert [m["env_steps"] for m in evals] == [200, 400]


def test_a_random_policy_scores_what_random_cartpole_and_pendulum_score():
    from ezv2_lite.evaluate import random_policy_returns
    from ezv2_lite.presets import preset

    cartpole = random_policy_returns(preset("cartpole").env, 40, seed=0)
    # a pole pushed at random falls in ~22 steps
    assert 15 < cartpole.mean() < 30 and cartpole.min() >= 8
    pendulum = random_policy_returns(preset("pendulum").env, 10, seed=0)
    assert -1600 < pendulum.mean() < -800  # 200 steps mostly far from upright
    np.testing.assert_array_equal(
        random_policy_returns(preset("cartpole").env, 5, seed=3), cartpole[3:8]
    )


def test_play_shows_each_step_as_a_person_sees_it_and_keeps_the_search_of_episode_zero():
    config = override(preset("cartpole"), search=dict(num_simulations=4))
    model = _cartpole_model(config)
    steps = list(evaluation.play(model, config, episodes=2, seed=3, render=True, trace=True))
    for episode in (0, 1):
        mine = [s for s in steps if s.episode == episode]
        assert [s.t for s in mine] == list(range(len(mine)))  # every step, in order
        assert [s.done for s in mine] == [False] * (len(mine) - 1) + [True]
        assert all(
            s.frame.dtype == np.uint8 and s.frame.ndim == 3 and s.frame.shape[2] == 3 for s in mine
        )
        assert all(
            s.improved_policy.shape == (2,) and abs(s.improved_policy.sum() - 1) < 1e-5
            for s in mine
        )
    first = [s for s in steps if s.episode == 0]
    assert all(s.trace is not None and s.trace.chosen_slot == s.action_slot for s in first)
    assert all(s.trace.action_names == ["push left", "push right"] for s in first)
    assert all(s.trace is None for s in steps if s.episode == 1)
    # the observations are the ones the search saw: CartPole's state moves between steps
    assert not np.allclose(first[0].observation, first[1].observation)


@pytest.mark.slow
def test_frames_and_traces_do_not_change_what_an_evaluation_scores():
    # (continuous: sampled actions)
    config = override(preset("pendulum"), search=dict(num_simulations=4))
    model = _cartpole_model(config)
    returns = evaluation.evaluate(model, config, episodes=2, seed=5)
    watched = np.zeros(2)
    for step in evaluation.play(model, config, episodes=2, seed=5, render=True, trace=True):
        watched[step.episode] += step.reward
    assert np.array_equal(returns, watched)


def test_playing_with_frames_an_environment_that_draws_none_is_a_clear_error(monkeypatch):
    import gymnasium

    from ezv2_lite.config import ConfigError

    monkeypatch.setattr(
        evaluation, "make_env", lambda cfg, mode, seed: gymnasium.make("CartPole-v1")
    )
    config = preset("cartpole")
    with pytest.raises(ConfigError, match="draws no frames"):
        next(evaluation.play(_cartpole_model(config), config, episodes=1, seed=0, render=True))


def _step(t, action, value, episode=0):
    from ezv2_lite.evaluate import Step

    return Step(
        episode=episode,
        t=t,
        observation=np.zeros(1),
        frame=None,
        action=np.asarray(action),
        action_slot=0,
        reward=0.0,
        done=False,
        improved_policy=np.ones(2) / 2,
        visit_counts=np.zeros(2),
        root_value=value,
        network_value=value,
    )


def test_root_diagnostics_give_the_value_spread_and_the_first_steps_actions():
    from ezv2_lite.evaluate import RootDiagnostics

    discrete = RootDiagnostics(num_actions=3, first_steps=2)
    for t, actions in enumerate([(0, 2), (2, 2), (1, 1)]):  # two episodes, three steps
        for episode, action in enumerate(actions):
            discrete(_step(t, np.int64(action), value=float(t), episode=episode))
    out = discrete.summary()
    assert out["eval_root_value_mean"] == pytest.approx(1.0)  # values 0, 0, 1, 1, 2, 2
    assert out["eval_root_value_std"] == pytest.approx(np.sqrt(2 / 3))
    assert out["eval_first_action_shares"] == [0.25, 0.0, 0.75]  # steps 0 and 1: 0, 2, 2, 2

    continuous = RootDiagnostics(num_actions=None, first_steps=3)
    for t in range(4):
        for episode, push in enumerate((0.5, -0.1)):
            continuous(
                _step(t, np.array([push * (t + 1), 0.0], np.float32), value=1.0, episode=episode)
            )
    mean = continuous.summary()["eval_first_action_mean"]
    np.testing.assert_allclose(mean, [[0.2, 0.0], [0.4, 0.0], [0.6, 0.0]], atol=1e-6)


@pytest.mark.parametrize("name", ["pendulum", "cartpole"])
def test_the_root_action_check_compares_each_root_actions_q_with_what_taking_it_gave(name):
    """Worked by hand over one step (horizon 1): the episode `play` plays from the same seed
    up to the root, then each root action taken in a fresh copy of it: its reward plus the
    discounted value network's estimate of where it led."""
    from ezv2_lite.envs import make_env
    from ezv2_lite.evaluate import play, root_action_check
    from ezv2_lite.model.networks import predict_values

    torch.manual_seed(0)
    config = preset(name).resolved()
    model = build_model(config, probe_spec(config.env)).eval()
    check = root_action_check(model, config, seed=7, start_step=3, horizon=1)
    C = config.search.num_sampled_actions if name == "pendulum" else 2
    assert check.predicted_q.shape == check.rollout_return.shape == check.visited.shape == (C,)
    assert check.visited[check.chosen] and check.visited.sum() >= 2
    steps = play(model, config, 1, seed=7)
    prefix = [next(steps).action for _ in range(3)]
    assert next(steps).action_slot == check.chosen  # the same episode, the same root
    steps.close()
    gamma = config.agent_discount
    for action, got in zip(check.actions, check.rollout_return, strict=True):
        env = make_env(config.env, "eval", 7)
        env.reset()
        for a in prefix:
            env.step(a)
        obs, reward, *_ = env.step(action)
        expected = reward + gamma * predict_values(model, obs[None])[0]
        # (batched there: float32 sums differ)
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-5)
    longer = root_action_check(model, config, seed=7, start_step=3, horizon=4)
    np.testing.assert_array_equal(longer.predicted_q, check.predicted_q)
    assert not np.allclose(longer.rollout_return, check.rollout_return)
