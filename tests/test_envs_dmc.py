"""DeepMind Control from state and pixels, checked against dm_control itself."""

import dataclasses

import numpy as np
import pytest
from dm_control import suite

from ezv2_lite.config import EnvConfig
from ezv2_lite.envs import env_spec, make_env


def dmc(name="cartpole-swingup", **kw):
    return EnvConfig(suite="dmc", name=name, **kw)


def flatten(observation):
    return np.concatenate([np.asarray(v, np.float32).ravel() for v in observation.values()])


def test_action_repeat_sums_two_rewards_and_state_is_flattened_in_spec_order():
    env = make_env(dmc(), "train", seed=5)
    raw = suite.load("cartpole", "swingup", task_kwargs={"random": 5})
    obs, _ = env.reset()
    time_step = raw.reset()
    np.testing.assert_array_equal(obs, flatten(time_step.observation))
    rng = np.random.default_rng(0)
    for _ in range(50):
        action = rng.uniform(-1, 1, size=1).astype(np.float32)
        obs, reward, *_ = env.step(action)
        expected = 0.0
        for _ in range(2):
            time_step = raw.step(action)
            expected += time_step.reward
        assert reward == pytest.approx(expected, abs=1e-12)
        np.testing.assert_array_equal(obs, flatten(time_step.observation))


def test_an_episode_is_500_agent_steps_ending_in_truncation():
    env = make_env(dmc("walker-walk"), "train", seed=0)
    env.reset()
    zero = np.zeros(env.action_space.shape, np.float32)
    for step in range(1, 501):  # noqa: B007 (read after the loop)
        _, _, terminated, truncated, _ = env.step(zero)
        assert not terminated
        if truncated:
            break
    assert step == 500 and truncated


def test_state_layout_is_the_same_at_every_reset():
    env = make_env(dmc("walker-walk"), "train", seed=0)
    keys = env.unwrapped.state_keys
    assert keys == ["orientations", "height", "velocity"]
    sizes = [14, 1, 9]
    for _ in range(3):
        obs, _ = env.reset()
        assert obs.shape == (sum(sizes),) and obs.dtype == np.float32
        assert env.unwrapped.state_keys == keys
        # The height slot holds the torso height (about 1.3 m when standing).
        assert 0.0 < obs[14] < 2.0


def test_same_seed_same_first_observation_and_different_seeds_differ():
    first = lambda seed, **kw: make_env(dmc(**kw), "train", seed=seed).reset()[0]
    np.testing.assert_array_equal(first(3), first(3))
    assert not np.array_equal(first(3), first(4))
    np.testing.assert_array_equal(
        first(3, pixels=True, image_size=64), first(3, pixels=True, image_size=64)
    )


def test_pixels_are_rgb_stacks_of_the_configured_size():
    env = make_env(dmc("walker-walk", pixels=True), "train", seed=0)
    obs, _ = env.reset()
    assert obs.shape == (12, 96, 96) and obs.dtype == np.uint8
    assert obs.std() > 5, "a rendered scene, not a blank frame"
    spec = env_spec(env, dmc("walker-walk", pixels=True))
    assert (spec.action_dim, spec.action_repeat, spec.frame_stack) == (6, 2, 4)
    obs, *_ = env.step(np.ones(6, np.float32))
    assert obs.shape == (12, 96, 96)
    small = make_env(dmc(pixels=True, image_size=64, frame_stack=2), "train", seed=0)
    assert small.reset()[0].shape == (6, 64, 64)


def test_quadruped_pixels_use_camera_two():
    cfg = dmc("quadruped-walk", pixels=True)
    assert cfg.resolved().camera == 2
    assert dataclasses.replace(cfg, name="walker-walk").resolved().camera == 0


def test_unknown_task_says_how_to_name_one():
    with pytest.raises(ValueError, match="unknown DMC task 'walker-sprint'.*domain-task"):
        make_env(dmc("walker-sprint"), "train", 0)


def test_render_draws_the_observations_camera_larger_for_people():
    env = make_env(dmc("cartpole-balance", pixels=True, image_size=64), "train", seed=0)
    obs, _ = env.reset()
    frame = env.render()
    assert obs.shape[1:] == (64, 64) and frame.shape == (240, 240, 3) and frame.std() > 5
    # the same camera: the 240 px frame shrunk to 64 px is close to the observed frame
    import cv2

    small = cv2.resize(frame, (64, 64), interpolation=cv2.INTER_AREA).astype(float)
    assert np.abs(small - obs[-3:].transpose(1, 2, 0)).mean() < 20
