"""n-step returns, value prefixes and priorities against sums written out by hand."""

import numpy as np

from ezv2_lite.returns import episode_n_step_returns, n_step_return, priority, value_prefixes


def test_n_step_return_stops_at_n_prime_and_bootstraps_there():
    rewards = np.array([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]])  # r_c, r_{c+1}, r_{c+2}
    steps = np.array([3, 1])  # the second ends one step ahead: the rest is ignored
    bootstrap = np.array([8.0, 16.0])
    np.testing.assert_allclose(
        n_step_return(rewards, steps, bootstrap, 0.5),
        [1 + 0.5 * 2 + 0.25 * 4 + 0.125 * 8, 1 + 0.5 * 16],
    )


def test_episode_returns_by_hand():
    r, v = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0, 40.0])
    # gamma 0.5, n 2; truncation bootstraps from o_3 (40), a terminal does not
    np.testing.assert_allclose(
        episode_n_step_returns(r, v, False, 0.5, 2), [1 + 1 + 7.5, 2 + 1.5 + 10, 3 + 20, 40]
    )
    np.testing.assert_allclose(
        episode_n_step_returns(r, v, True, 0.5, 2), [1 + 1 + 7.5, 2 + 1.5, 3, 0]
    )
    np.testing.assert_allclose(
        episode_n_step_returns(r, v, True, 0.5, 2, positions=np.array([1, 2])), [2 + 1.5, 3]
    )


def test_value_prefixes_restart_after_each_horizon():
    rewards = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    # an LSTM reset before steps 0, 2 and 4
    np.testing.assert_allclose(value_prefixes(rewards, 2), [1, 3, 3, 7, 5])
    np.testing.assert_allclose(value_prefixes(rewards, 5), [1, 3, 6, 10, 15])


def test_priority_is_the_distance_to_the_return_with_a_floor():
    np.testing.assert_allclose(
        priority(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.5, 4.0]), 0.01), [0.01, 1.51, 1.01]
    )
