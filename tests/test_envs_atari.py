"""The Atari 100k protocol (docs/algorithm.md §6), checked against the raw emulator."""

import cv2
import gymnasium as gym
import numpy as np
import pytest

from ezv2_lite.config import EnvConfig
from ezv2_lite.envs import env_spec, make_env

ale_py = pytest.importorskip("ale_py")
gym.register_envs(ale_py)


def atari(name="Pong", **kw):
    return EnvConfig(suite="atari", name=name, **kw)


def time_limit(env):
    while not isinstance(env, gym.wrappers.TimeLimit):
        env = env.env
    return env._max_episode_steps


def test_frame_skip_sums_four_rewards_and_max_pools_the_last_two_frames():
    env = make_env(atari(noop_max=0, frame_stack=1), "eval", seed=0)
    raw = gym.make(
        "ALE/Pong-v5", frameskip=1, repeat_action_probability=0.0, full_action_space=False
    )
    obs, _ = env.reset()
    raw.reset(seed=0)
    ale = raw.unwrapped.ale
    rng = np.random.default_rng(0)
    nonzero = 0
    for _ in range(300):
        action = int(rng.integers(env.action_space.n))
        obs, reward, *_ = env.step(action)
        expected_reward, frames = 0.0, []
        for _ in range(4):
            _, r, *_ = raw.step(action)
            expected_reward += r
            frames.append(ale.getScreenRGB())
        pooled = np.maximum(frames[-2], frames[-1])
        expected = cv2.resize(pooled, (96, 96), interpolation=cv2.INTER_AREA)
        assert reward == expected_reward
        np.testing.assert_array_equal(obs.transpose(1, 2, 0), expected)
        nonzero += reward != 0
    assert nonzero > 0, "the check needs some points scored"


def test_no_sticky_actions_so_actions_alone_decide_the_frames():
    assert make_env(atari(), "train", 0).unwrapped.ale.getFloat("repeat_action_probability") == 0.0
    # With sticky actions (p = 0.25) two seeds would diverge under the same actions.
    envs = [make_env(atari(noop_max=0), "train", seed) for seed in (1, 2)]
    first = [e.reset()[0] for e in envs]
    np.testing.assert_array_equal(first[0], first[1])
    rng = np.random.default_rng(1)
    for _ in range(200):
        action = int(rng.integers(6))
        a, b = (e.step(action)[0] for e in envs)
        np.testing.assert_array_equal(a, b)


def test_same_seed_gives_the_same_frames_with_noop_starts():
    runs = []
    for _ in range(2):
        env = make_env(atari(), "train", seed=7)
        frames = [env.reset()[0]] + [env.step(a % 6)[0] for a in range(50)]
        runs.append(np.stack(frames))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_at_most_30_noop_frames_at_reset():
    counts = []
    for seed in range(12):
        env = make_env(atari(), "train", seed=seed)
        env.reset()
        counts.append(env.unwrapped.ale.getEpisodeFrameNumber())
    assert all(1 <= c <= 30 for c in counts), counts
    assert len(set(counts)) > 3, counts


def play_until_life_lost(env, rng, limit=5000):
    ale = env.unwrapped.ale
    lives = ale.lives()
    for _ in range(limit):
        _, _, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        if ale.lives() < lives or terminated or truncated:
            return terminated, info
    raise AssertionError("no life lost")


def test_life_loss_ends_an_episode_in_training_mode_only():
    rng = np.random.default_rng(0)
    train = make_env(atari("Breakout"), "train", seed=0)
    train.reset()
    ale = train.unwrapped.ale
    assert ale.lives() == 5
    terminated, info = play_until_life_lost(train, rng)
    assert terminated and ale.lives() == 4 and not info["game_over"]
    frame = ale.getEpisodeFrameNumber()
    train.reset()  # the same game goes on after a lost life
    assert ale.lives() == 4 and ale.getEpisodeFrameNumber() > frame

    evaluation = make_env(atari("Breakout"), "eval", seed=0)
    evaluation.reset()
    terminated, _ = play_until_life_lost(evaluation, rng)
    assert not terminated and evaluation.unwrapped.ale.lives() == 4


def test_training_rewards_are_clipped_and_evaluation_rewards_raw():
    rng = np.random.default_rng(0)
    actions = rng.integers(9, size=600)
    train, evaluation = (make_env(atari("Asterix"), mode, seed=3) for mode in ("train", "eval"))
    train.reset(), evaluation.reset()
    raw_train, raw_eval = [], []
    for action in actions:
        _, r, terminated, truncated, info = train.step(int(action))
        assert r in (-1.0, 0.0, 1.0) and r == np.sign(info["raw_reward"])
        raw_train.append(info["raw_reward"])
        _, r_eval, *_ = evaluation.step(int(action))
        raw_eval.append(r_eval)
        if terminated or truncated:
            break
    assert max(raw_train) > 1, "Asterix scores 50 per item: the check needs one"
    # Until the first life is lost both modes play the same game.
    assert raw_eval[: len(raw_train)] == raw_train


def test_observation_is_a_stack_of_four_rgb_frames_channel_first():
    env = make_env(atari(), "train", seed=0)
    obs, _ = env.reset()
    assert obs.dtype == np.uint8 and obs.shape == (12, 96, 96)
    assert env.observation_space.shape == (12, 96, 96)
    # After a reset the stack holds four copies of the first frame.
    for k in range(1, 4):
        np.testing.assert_array_equal(obs[3 * k : 3 * k + 3], obs[:3])
    spec = env_spec(env, atari())
    assert (spec.num_actions, spec.action_repeat, spec.frame_stack, spec.is_image) == (
        6,
        4,
        4,
        True,
    )
    newest, *_ = env.step(0)
    np.testing.assert_array_equal(newest[:9], obs[3:])  # frames shift by one
    small = make_env(atari(image_size=64), "train", seed=0)
    assert small.reset()[0].shape == (12, 64, 64)


def test_evaluation_cap_is_27000_agent_steps_and_truncates():
    assert time_limit(make_env(atari(), "eval", 0)) == 27000
    assert time_limit(make_env(atari(), "train", 0)) == 3000
    env = make_env(atari(eval_max_episode_steps=40), "eval", seed=0)
    env.reset()
    for step in range(1, 41):
        _, _, terminated, truncated, _ = env.step(0)
        assert not terminated
        assert truncated == (step == 40)


def test_unknown_game_says_what_to_give():
    with pytest.raises(ValueError, match="unknown Atari game 'Pongg'.*Pong"):
        make_env(atari("Pongg"), "train", 0)


def test_actions_carry_the_games_names_and_the_screen_is_drawn():
    from ezv2_lite.envs import readable_atari_action

    assert [readable_atari_action(m) for m in ("NOOP", "FIRE", "UPLEFT", "DOWNRIGHTFIRE")] == [
        "no-op",
        "fire",
        "up-left",
        "down-right + fire",
    ]
    env = make_env(atari("Pong"), "train", seed=0)
    env.reset()
    assert env_spec(env, atari("Pong")).action_names == (
        "no-op",
        "fire",
        "right",
        "left",
        "right + fire",
        "left + fire",
    )
    screen = env.render()
    assert screen.shape == (210, 160, 3) and screen.std() > 5  # the whole screen, for people
