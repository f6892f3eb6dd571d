"""The small pixel games: Catch (ezv2_lite/envs/examples.py) and the MinAtar suite."""

import numpy as np
import pytest
import torch

from ezv2_lite.config import EnvConfig, override
from ezv2_lite.envs import env_spec, make_env, probe_spec
from ezv2_lite.envs.examples import BALL, PADDLE, Catch
from ezv2_lite.model import build_model
from ezv2_lite.presets import preset

CATCH = "ezv2_lite.envs.examples:Catch-v0"


def test_catch_passes_gymnasiums_env_checker():
    from gymnasium.utils.env_checker import check_env

    check_env(Catch(), skip_render_check=False)


def _paddle_and_ball(frame, cell=4):
    grid = frame[::cell, ::cell]
    paddle = np.argwhere((grid == PADDLE).all(-1))
    ball = np.argwhere((grid == BALL).all(-1))
    return [tuple(p) for p in paddle], [tuple(b) for b in ball]


def test_catch_rewards_a_paddle_under_the_ball_and_punishes_a_miss():
    env = Catch(size=5, balls=2)
    frame, _ = env.reset(seed=3)
    (paddle,), (ball,) = _paddle_and_ball(frame)
    assert paddle == (4, 2) and ball[0] == 0
    rewards = []
    for _ in range(4):  # follow the ball: it lands on row 4 after 4 steps
        _, (ball,) = _paddle_and_ball(env.frame())
        frame, reward, terminated, _, _ = env.step(1 + int(np.sign(ball[1] - env.paddle)))
        rewards.append(reward)
    assert rewards == [0, 0, 0, 1] and not terminated
    _, (ball,) = _paddle_and_ball(frame)
    for _ in range(4):  # run away from the second ball
        frame, reward, terminated, _, _ = env.step(0 if ball[1] >= 2 else 2)
    assert reward == -1 and terminated
    assert _paddle_and_ball(frame)[1] == []  # no ball after the last one


def test_a_random_policy_loses_catch():
    env = make_env(EnvConfig(suite="gym", name=CATCH), "eval", seed=0)
    returns = []
    for _ in range(20):
        env.reset()
        done, total = False, 0.0
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += reward
            done = terminated or truncated
        returns.append(total)
    assert -9 < np.mean(returns) < -4  # about 1 ball in 6 is caught by chance


def test_an_environment_named_module_colon_id_is_imported_then_made():
    spec = probe_spec(EnvConfig(suite="gym", name=CATCH))
    assert spec.obs_shape == (3, 32, 32) and spec.obs_dtype == "uint8"
    assert spec.action_names == ("left", "stay", "right")  # the environment's own names
    with pytest.raises(ValueError, match="cannot import 'no_such_module'"):
        probe_spec(EnvConfig(suite="gym", name="no_such_module:Game-v0"))


# ----------------------------------------------------------------------------- MinAtar

minatar = pytest.importorskip("minatar", reason="the minatar extra is not installed")

GAMES = {
    "Asterix": (4, 5),
    "Breakout": (4, 3),
    "Freeway": (7, 3),
    "Seaquest": (10, 6),
    "SpaceInvaders": (6, 4),
}


@pytest.mark.parametrize("game", GAMES)
def test_minatar_games_are_binary_grids_with_named_actions(game):
    cfg = EnvConfig(suite="minatar", name=game)
    env = make_env(cfg, "train", seed=0)
    obs, _ = env.reset()
    channels, actions = GAMES[game]
    spec = env_spec(env, cfg)
    assert spec.obs_shape == (channels, 10, 10) and obs.dtype == np.uint8
    assert set(np.unique(obs)) <= {0, 255}
    assert spec.num_actions == actions and len(spec.action_names) == actions
    assert spec.action_names[0] == "no-op"
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (160, 160, 3)


def test_minatar_observations_are_the_packages_grids_and_follow_the_seed():
    env = make_env(EnvConfig(suite="minatar", name="Breakout"), "train", seed=7)
    obs, _ = env.reset()
    grid = env.unwrapped.game.state()  # the package's own bool grid, (10, 10, C)
    np.testing.assert_array_equal(obs, grid.transpose(2, 0, 1).astype(np.uint8) * 255)
    again, _ = make_env(EnvConfig(suite="minatar", name="Breakout"), "train", seed=7).reset()
    np.testing.assert_array_equal(obs, again)


def test_minatar_training_and_evaluation_games_end_at_their_time_limit():
    env = make_env(EnvConfig(suite="minatar", name="Freeway", max_episode_steps=5), "train", seed=0)
    env.reset()
    ends = [env.step(0)[3] for _ in range(5)]
    assert ends == [False] * 4 + [True]


def test_unknown_minatar_game_names_the_games():
    with pytest.raises(ValueError, match="Breakout"):
        make_env(EnvConfig(suite="minatar", name="Pong"))


@pytest.mark.parametrize("name, grid", [("catch", 8), ("minatar", 10)])
def test_the_small_pixel_presets_keep_one_latent_cell_per_game_cell(name, grid):
    """Catch's 32 px frames shrink 4 times to its 8 x 8 grid; MinAtar's 10 x 10 grid is not shrunk."""
    config = preset(name)
    spec = probe_spec(config.env)
    model = build_model(config, spec)
    assert model.latent_shape == (config.model.channels, grid, grid)
    out = model.eval().initial(torch.zeros(2, *spec.obs_shape, dtype=torch.uint8))
    assert out.policy.shape == (2, 3)


def test_the_paper_encoder_is_unchanged_by_the_downsample_switch():
    config = override(
        preset("atari"),
        env=dict(name="Pong", image_size=64),
        model=dict(channels=8, lstm_hidden=16),
    )
    spec = probe_spec(config.env)
    assert build_model(config, spec).latent_shape == (8, 4, 4)  # 64 px / 16
