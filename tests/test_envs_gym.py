"""Gymnasium environments: specs, action rescaling, seeding, vectors and unsupported spaces."""

import gymnasium as gym
import numpy as np
import pytest

from ezv2_lite.config import EnvConfig
from ezv2_lite.envs import env_spec, make_env, make_vector_env


class _Custom(gym.Env):
    def __init__(self, observation_space, action_space):
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


BOX = gym.spaces.Box(-1, 1, (3,), np.float32)
for env_id, obs_space, act_space in [
    ("EzTest/MultiDiscrete-v0", BOX, gym.spaces.MultiDiscrete([2, 3])),
    ("EzTest/DictObs-v0", gym.spaces.Dict({"a": BOX}), gym.spaces.Discrete(2)),
    ("EzTest/Unbounded-v0", BOX, gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)),
]:
    if env_id not in gym.registry:
        gym.register(env_id, entry_point=lambda o=obs_space, a=act_space: _Custom(o, a))


def gym_cfg(name, **kw):
    return EnvConfig(suite="gym", name=name, **kw)


def test_cartpole_spec():
    env = make_env(gym_cfg("CartPole-v1"), "train", seed=0)
    obs, _ = env.reset()
    assert obs.dtype == np.float32 and obs.shape == (4,)
    spec = env_spec(env, gym_cfg("CartPole-v1"))
    assert (spec.action_kind, spec.num_actions, spec.obs_shape) == ("discrete", 2, (4,))


def test_box_actions_are_rescaled_to_unit_bounds():
    env = make_env(gym_cfg("Pendulum-v1"), "train", seed=0)
    env.reset()
    assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    env.step(np.array([1.0], np.float32))
    assert env.unwrapped.last_u == pytest.approx(2.0)  # Pendulum's torque bound
    spec = env_spec(env, gym_cfg("Pendulum-v1"))
    assert (spec.action_kind, spec.action_dim) == ("continuous", 1)


def test_frame_stack_of_state_vectors():
    env = make_env(gym_cfg("CartPole-v1", frame_stack=3), "train", seed=0)
    obs, _ = env.reset()
    assert obs.shape == (12,)
    np.testing.assert_array_equal(obs[:4], obs[8:])
    new, *_ = env.step(0)
    np.testing.assert_array_equal(new[:8], obs[4:])


def test_same_seed_same_first_observation():
    a = make_env(gym_cfg("CartPole-v1"), "train", seed=11).reset()[0]
    b = make_env(gym_cfg("CartPole-v1"), "train", seed=11).reset()[0]
    c = make_env(gym_cfg("CartPole-v1"), "train", seed=12).reset()[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_vector_env_seeds_each_copy_and_resets_finished_ones_in_the_same_step():
    envs = make_vector_env(gym_cfg("CartPole-v1"), num_envs=3, mode="train", seed=4)
    obs, _ = envs.reset()
    singles = [make_env(gym_cfg("CartPole-v1"), "train", seed=4 + i).reset()[0] for i in range(3)]
    np.testing.assert_array_equal(obs, np.stack(singles))
    for _ in range(200):
        obs, _, terminated, truncated, info = envs.step(np.zeros(3, dtype=np.int64))
        done = terminated | truncated
        if done.any():
            i = int(np.flatnonzero(done)[0])
            assert info["final_obs"][i].shape == (4,)
            assert np.abs(obs[i]).max() <= 0.05  # already the next episode's first state
            break
    else:
        raise AssertionError("pushing left always ends CartPole")


@pytest.mark.parametrize(
    "env_id, words",
    [
        ("Blackjack-v1", "observation space Tuple"),
        ("EzTest/DictObs-v0", "FlattenObservation"),
        ("EzTest/MultiDiscrete-v0", "action space MultiDiscrete"),
        ("EzTest/Unbounded-v0", "infinite bounds"),
    ],
)
def test_unsupported_spaces_raise_a_clear_error(env_id, words):
    with pytest.raises(ValueError) as error:
        make_env(gym_cfg(env_id), "train", 0)
    message = str(error.value)
    assert env_id in message and words in message
    if "action space" in words or "observation space" in words:
        assert "Box observation space and a Discrete or Box action space" in message


def test_unknown_id_and_bad_mode():
    with pytest.raises(ValueError, match="unknown Gymnasium environment 'CartPole-v9'"):
        make_env(gym_cfg("CartPole-v9"), "train", 0)
    with pytest.raises(ValueError, match="mode must be 'train' or 'eval'"):
        make_env(gym_cfg("CartPole-v1"), "test", 0)


def test_cartpole_draws_itself_and_names_its_actions():
    """The frame shows the cart where it is: pushing right (action 1, "push right") for a while
    moves the cart's dark pixels to the right of the picture."""
    cfg = gym_cfg("CartPole-v1")
    env = make_env(cfg, "train", seed=0)
    env.reset()
    assert env_spec(env, cfg).action_names == ("push left", "push right")

    def cart_x(frame):
        assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8
        _, columns = np.nonzero(frame.sum(axis=2) == 0)  # the cart is drawn black on white
        return columns.mean()

    before = cart_x(env.render())
    for _ in range(8):
        obs, *_ = env.step(1)
    assert obs[1] > 0  # the cart moves right
    assert cart_x(env.render()) > before + 2


def test_continuous_tasks_draw_themselves_and_have_no_action_names():
    cfg = gym_cfg("Pendulum-v1")
    env = make_env(cfg, "train", seed=0)
    env.reset()
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.std() > 5
    assert env_spec(env, cfg).action_names is None
