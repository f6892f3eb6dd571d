"""Returns and priorities: the n-step TD return, the value prefix and the priority of a
transition (paper §4.2-4.4; docs/algorithm.md §4.2 and §5.3). Plain NumPy, in float64.

Three callers, one formula each:
- the replay gives a finished stretch of an episode its precalculated priorities
  (`episode_n_step_returns`, `priority`);
- the reanalyze step computes the TD value targets of a sampled batch (`n_step_return`,
  with the lagged target model's bootstrap values) and the value-prefix targets
  (`value_prefixes`);
- the learner gives the transitions it learned from their new priorities (`priority`).
"""

from __future__ import annotations

import numpy as np

from .model.networks import lstm_restarts_after


def n_step_return(
    rewards: np.ndarray, steps: np.ndarray, bootstrap: np.ndarray, discount: float
) -> np.ndarray:
    """z = sum_{k < n'} gamma^k r_{c+k} + gamma^n' V(o_{c+n'}) (docs/algorithm.md §4.2).

    `rewards` [..., n]: r_c .. r_{c+n-1} (those at k >= n' are ignored); `steps` [...]: n' <= n,
    shorter than n where the episode ends first; `bootstrap` [...]: the value of o_{c+n'},
    0 where that observation is a true terminal. Returns z [...].
    """
    k = np.arange(rewards.shape[-1])
    discounted = np.where(k < steps[..., None], discount**k * rewards, 0.0).sum(-1)
    return discounted + discount**steps * bootstrap


def episode_n_step_returns(
    rewards: np.ndarray,
    values: np.ndarray,
    terminal: bool,
    discount: float,
    n: int,
    positions: np.ndarray | None = None,
) -> np.ndarray:
    """`n_step_return` at positions of one stored episode, bootstrapped from its own values.

    `rewards` [T], `values` [T+1] (the value of every observation, including the last).
    n' = min(n, T - t): near the end the return bootstraps from the last observation,
    whose value counts as 0 if the episode ended in a terminal; a time limit is not a
    terminal. Returns z at `positions` [P] (default: 0..T).
    """
    T = len(rewards)
    t = np.arange(T + 1) if positions is None else np.asarray(positions)
    v = np.asarray(values[: T + 1], np.float64).copy()
    if terminal:
        v[T] = 0.0
    r = np.append(np.asarray(rewards, np.float64), 0.0)  # r[T] = 0 pads the last position
    steps = np.minimum(n, T - t)
    ahead = r[np.minimum(t[:, None] + np.arange(n), T)]  # [P, n] r_t .. r_{t+n-1}
    return n_step_return(ahead, steps, v[t + steps], discount)


def value_prefixes(rewards: np.ndarray, horizon: int) -> np.ndarray:
    """[..., K] -> [..., K]: at each unroll step the sum of the rewards since the last LSTM
    reset (resets before steps 0, horizon, 2 horizon, ...). This is what the value-prefix head
    learns (paper §4.1)."""
    out = np.array(rewards, np.float64)
    for k in range(1, out.shape[-1]):  # the reward of the step out of depth k
        if not lstm_restarts_after(k, horizon):
            out[..., k] += out[..., k - 1]
    return out


def priority(values: np.ndarray, returns: np.ndarray, min_priority: float) -> np.ndarray:
    """|v - z| + min_priority: how far a value estimate is from its target (paper §4.4), with a
    floor so that every transition can be sampled. [...] and [...] -> [...] float64."""
    return np.abs(np.asarray(values, np.float64) - returns) + min_priority
