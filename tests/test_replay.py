"""Prioritised whole-episode replay (docs/algorithm.md §5.3)."""

import numpy as np
import pytest
import replay_pins
import torch
from scipy.stats import chisquare

from ezv2_lite import replay_file
from ezv2_lite.config import EnvConfig, override
from ezv2_lite.envs import EnvSpec, env_spec, make_env
from ezv2_lite.presets import preset
from ezv2_lite.replay import Replay
from ezv2_lite.returns import episode_n_step_returns, priority

VECTOR = EnvSpec((1,), "float32", "discrete", 3, None, 1, 1)


def small_config(**replay):
    return override(
        preset("cartpole"), optim=dict(discount=0.5, td_steps=2, unroll_steps=3), replay=replay
    )


def fill(replay, lengths, terminal=True, slot=0, value=lambda e, t: 0.0, reward=lambda e, t: 1.0):
    """Episodes whose observation t is [t] (episode e's value e, t; reward e, t)."""
    for e, T in enumerate(lengths):
        replay.start_episode(slot, np.array([0.0], np.float32), value(e, 0))
        for t in range(T):
            replay.add(
                slot,
                t % 3,
                reward(e, t),
                reward(e, t),
                np.array([t + 1.0], np.float32),
                value(e, t + 1),
            )
        replay.end_episode(slot, terminal)


@pytest.mark.parametrize(
    "name, env_cfg",
    [
        ("cartpole", EnvConfig(suite="gym", name="CartPole-v1", frame_stack=3)),
        ("atari", EnvConfig(suite="atari", name="Pong")),
    ],
)
def test_stacked_observations_at_sample_time_equal_the_stored_ones(name, env_cfg):
    env = make_env(env_cfg, "train", seed=0)
    spec = env_spec(env, env_cfg)
    replay = Replay(override(preset(name), env=env_cfg), spec)
    obs, _ = env.reset()
    seen = [obs]
    replay.start_episode(0, obs, 0.0)
    for _ in range(15):
        obs, r, *_ = env.step(env.action_space.sample())
        replay.add(0, 0, r, r, obs, 0.0)
        seen.append(obs)
    frames = replay.episodes[0].frames
    assert frames.dtype == (torch.uint8 if spec.is_image else torch.float32)
    assert frames.shape[1] == spec.obs_shape[0] // spec.frame_stack  # one frame per step
    for t, expected in enumerate(seen):
        np.testing.assert_array_equal(replay.stacked_observation(0, t), expected)


def test_windows_pad_and_mask_past_the_episode_end():
    replay = Replay(small_config(), VECTOR)
    fill(replay, [4])  # T = 4, U = 3
    batch = replay.windows(np.array([2]))  # t = 2: actions 2, 3 exist
    np.testing.assert_array_equal(batch.mask[0], [1, 1, 0])
    np.testing.assert_array_equal(batch.exists[0], [1, 1, 1, 0])
    np.testing.assert_array_equal(batch.actions[0, :2], [2, 0])
    assert batch.actions[0, 2] in range(3)  # random padding for discrete actions
    np.testing.assert_array_equal(batch.observations[0, :, 0], [2, 3, 4, 4])  # clamped at o_T
    continuous = Replay(small_config(), EnvSpec((1,), "float32", "continuous", None, 2, 1, 1))
    continuous.start_episode(0, np.zeros(1, np.float32), 0.0)
    continuous.add(0, np.ones(2, np.float32), 1.0, 1.0, np.ones(1, np.float32), 0.0)
    continuous.end_episode(0, True)
    batch = continuous.windows(np.array([0]))
    np.testing.assert_array_equal(batch.actions[0], [[1, 1], [0, 0], [0, 0]])  # zeros past the end
    np.testing.assert_array_equal(batch.mask[0], [1, 0, 0])


def test_open_episodes_release_transitions_once_their_future_is_stored():
    replay = Replay(small_config(), VECTOR)  # U + n = 5
    replay.start_episode(0, np.zeros(1, np.float32), 0.0)
    for t in range(8):
        replay.add(0, 0, 1.0, 1.0, np.full(1, t + 1.0, np.float32), 0.0)
    assert replay.num_transitions == 8 and replay.num_ready == 3  # t = 0, 1, 2
    replay.end_episode(0, terminal=False)
    assert replay.num_ready == 8


def test_precalculated_priorities_are_value_minus_n_step_target():
    values = {0: [1.0, 2.0, 4.0, 0.5, 3.0]}
    rewards = [1.0, 0.0, 2.0, 1.0]
    replay = Replay(small_config(), VECTOR)  # gamma 0.5, n 2
    fill(
        replay, [4], terminal=True, value=lambda e, t: values[e][t], reward=lambda e, t: rewards[t]
    )
    # by hand: z_t = r_t + 0.5 r_{t+1} + 0.25 v_{t+2}, bootstrapping 0 at the terminal o_4
    z = [1 + 0 + 0.25 * 4, 0 + 0.5 * 2 + 0.25 * 0.5, 2 + 0.5 * 1 + 0.25 * 0, 1 + 0.5 * 0]
    expected = np.abs(np.array(values[0][:4]) - z) + 1e-6
    np.testing.assert_allclose(replay.priorities[:4], expected)


def test_max_priority_option_gives_new_data_the_running_maximum():
    replay = Replay(small_config(new_priority="max"), VECTOR)
    fill(replay, [3])
    np.testing.assert_array_equal(replay.priorities[:3], [1.0, 1.0, 1.0])
    replay.update_priorities(np.array([0]), np.array([7.0]))
    fill(replay, [2])
    np.testing.assert_array_equal(replay.priorities[3:5], [7.0, 7.0])


@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.0])
def test_sampling_frequencies_follow_priority_to_the_alpha(alpha):
    replay = Replay(small_config(alpha=alpha), VECTOR, seed=1)
    fill(replay, [8])
    priorities = np.array([0.1, 0.5, 1.0, 2.0, 4.0, 0.25, 3.0, 1.5])
    replay.update_priorities(np.arange(8), priorities)
    draws = 20000
    counts = np.bincount([replay.sample(1).indices[0] for _ in range(draws)], minlength=8)
    expected = priorities**alpha / (priorities**alpha).sum() * draws
    assert chisquare(counts, expected).pvalue > 0.001


def test_uniform_replay_never_samples_a_transition_whose_future_is_not_stored():
    replay = Replay(small_config(alpha=0.0), VECTOR, seed=0)  # U + n = 5
    replay.start_episode(0, np.zeros(1, np.float32), 0.0)
    for t in range(8):
        replay.add(0, 0, 1.0, 1.0, np.full(1, t + 1.0, np.float32), 0.0)
    drawn = {int(replay.sample(1).indices[0]) for _ in range(300)}
    assert drawn == {0, 1, 2}  # the ready ones, each with weight 1
    assert (replay.sample(3).weights == 1.0).all()


def test_importance_weights_are_normalised_and_clipped():
    replay = Replay(small_config(), VECTOR, seed=0)
    fill(replay, [20])
    replay.update_priorities(np.arange(20), np.r_[np.full(19, 0.01), 100.0])
    batch = replay.sample(10)
    assert len(set(batch.indices)) == 10  # without replacement
    assert batch.weights.max() == 1.0 and batch.weights.min() >= 0.1
    assert (batch.weights[batch.indices == 19] == 0.1).all()  # the most likely one is clipped


def test_sampling_more_than_is_stored_is_a_clear_error():
    replay = Replay(small_config(), VECTOR)
    fill(replay, [3])
    with pytest.raises(ValueError, match="fewer than the batch size 4"):
        replay.sample(4)


def test_replay_npz_round_trips_exactly(tmp_path):
    replay = Replay(small_config(), VECTOR, seed=3)
    fill(replay, [5, 7], value=lambda e, t: e + 0.1 * t)
    replay.start_episode(1, np.zeros(1, np.float32), 0.5)  # an open episode too
    replay.add(1, 2, 0.5, 3.0, np.ones(1, np.float32), 0.25)
    replay.update_priorities(np.array([1, 4]), np.array([3.0, 0.2]))
    replay_file.save(replay, tmp_path / "replay.npz")
    loaded = replay_file.load(tmp_path / "replay.npz", small_config(), VECTOR)
    a, b = replay_file.state_dict(replay), replay_file.state_dict(loaded)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    np.testing.assert_array_equal(replay.sample(4).indices, loaded.sample(4).indices)
    with np.load(tmp_path / "replay.npz", allow_pickle=False) as data:  # numpy's own reader agrees
        assert all(data[k].dtype != object for k in data.files)
        for key in a:
            np.testing.assert_array_equal(data[key], a[key], err_msg=key)


def test_interleaved_environments_keep_each_episode_s_priorities_and_readiness():
    # Two environments step in turn, so their transitions interleave in the replay.
    replay = Replay(small_config(), VECTOR)  # gamma 0.5, n 2, U 3: ready after 5 more steps
    values = {0: lambda t: 1.0 * t, 1: lambda t: -2.0 * t}
    for slot in (0, 1):
        replay.start_episode(slot, np.zeros(1, np.float32), values[slot](0))
    for t in range(8):
        for slot in (0, 1):
            replay.add(
                slot,
                slot,
                1.0 + slot,
                1.0 + slot,
                np.full(1, t + 1.0, np.float32),
                values[slot](t + 1),
            )
    assert replay.num_ready == 2 * 3  # t = 0, 1, 2 of each
    ready = np.flatnonzero(replay.ready[:16])
    assert sorted(replay.episode_of[ready].tolist()) == [0, 0, 0, 1, 1, 1]
    assert sorted(replay.position_of[ready].tolist()) == [0, 0, 1, 1, 2, 2]
    replay.end_episode(0, terminal=True)
    replay.end_episode(1, terminal=False)
    assert replay.num_ready == 16
    for e in (0, 1):
        ep = replay.episodes[e]
        z = episode_n_step_returns(ep.rewards[:8], ep.values[:9], e == 0, 0.5, 2, np.arange(8))
        expected = priority(ep.values[:8], z, 1e-6)
        ids = np.flatnonzero(replay.episode_of[:16] == e)
        np.testing.assert_allclose(replay.priorities[ids], expected)
        np.testing.assert_array_equal(replay.position_of[ids], np.arange(8))


def test_an_image_replay_stores_each_frame_once_and_grows_no_further_than_its_budget():
    """Three episodes of 100 steps of 4-stacked 3x96x96 frames, in a run budgeted at 300
    agent steps: each step stores one RGB frame (27,648 bytes) and a few numbers, and the
    lanes stop growing at the budget (303 offsets, plus room for episode starts) instead
    of doubling to 512."""
    spec = EnvSpec((12, 96, 96), "uint8", "discrete", 6, None, 4, 4)
    config = override(small_config(), train=dict(total_env_steps=4 * 300, num_envs=1))
    replay = Replay(config, spec)
    rng = np.random.default_rng(0)
    for e in range(3):
        first = rng.integers(0, 256, (3, 96, 96), dtype=np.uint8)
        replay.start_episode(0, np.concatenate([first] * 4), 0.0)
        stack = [first] * 4
        for t in range(100):
            stack = stack[1:] + [rng.integers(0, 256, (3, 96, 96), dtype=np.uint8)]
            replay.add(0, t % 6, 1.0, 1.0, np.concatenate(stack), 0.0)
        replay.end_episode(0, terminal=True)
        np.testing.assert_array_equal(replay.stacked_observation(e, 100), np.concatenate(stack))
    assert replay.frames.shape[:2] == (1, replay.planned_capacity) and replay.planned_capacity < 400
    per_step = 3 * 96 * 96 + 5 * 8  # a frame, its value, action, reward, raw reward and id
    assert replay.nbytes / 300 < 1.05 * per_step  # one RGB frame per step, not a stack of 4
    assert replay.allocated_nbytes < 1.3 * 300 * per_step


PINNED = np.load(replay_pins.PINS)


@pytest.mark.parametrize("name", list(replay_pins.SPECS))
def test_batches_and_targets_equal_the_ones_recorded_row_by_row(name):
    """Windows (observations, actions, masks, weights) and the reward and TD targets of the
    replays of tests/replay_pins.py: interleaved episodes, terminals, time limits, open
    episodes and windows past an episode's end, for both kinds of observation."""
    for key, value in replay_pins.run(name).items():
        expected = PINNED[key]
        assert value.shape == expected.shape, key
        if value.dtype.kind == "f":
            np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12, err_msg=key)
        else:
            np.testing.assert_array_equal(value, expected, err_msg=key)


def test_frames_can_live_on_another_device_and_batches_are_gathered_there():
    """Frames moved to the `meta` device (shapes, no data: nothing can be read back) give
    batches gathered there; frames on the CPU delivered to another device arrive there."""
    replay = replay_pins.filled_replay("image")
    on_host = replay.sample(4).observations
    replay.to("meta")
    batch = replay.sample(4)
    assert batch.observations.device.type == "meta" and batch.observations.shape == on_host.shape
    replay = replay_pins.filled_replay("image").to("cpu", batch_device="meta")
    assert (
        replay.frames.device.type == "cpu" and replay.sample(4).observations.device.type == "meta"
    )


def test_an_empty_replay_and_one_without_open_episodes_load_back(tmp_path):
    """A run stopped before its first step saves an empty replay, which must load; a replay
    whose episodes are all closed spreads them over the run's environments' lanes."""
    config = override(small_config(), train=dict(num_envs=4))
    empty = Replay(config, VECTOR)
    replay_file.save(empty, tmp_path / "empty.npz")
    assert replay_file.load(tmp_path / "empty.npz", config, VECTOR).num_transitions == 0
    replay = Replay(config, VECTOR)
    fill(replay, [30, 30, 30, 30])
    replay_file.save(replay, tmp_path / "closed.npz")
    loaded = replay_file.load(tmp_path / "closed.npz", config, VECTOR)
    assert loaded.frames.shape[0] == 4 and sorted(loaded.used.tolist()) == [31, 31, 31, 31]
    np.testing.assert_array_equal(
        loaded.windows(np.arange(100)).observations, replay.windows(np.arange(100)).observations
    )
