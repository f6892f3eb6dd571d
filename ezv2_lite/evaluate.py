"""Evaluation: whole episodes with the `evaluate`-mode search, raw returns (Part B §6).

Evaluation plays `episodes` environments in parallel, one episode each, in the
evaluation protocol (no life-loss terminals, raw rewards, the evaluation time
limit) with the search in `evaluate` mode: no Gumbel noise, and for continuous
actions 16 samples from the policy without widening.
"""

from __future__ import annotations


import numpy as np

from .config import Config
from .envs import make_vector_env
from .model.networks import EZModel
from .search import search



def evaluate(model: EZModel, config: Config, episodes: int, seed: int) -> np.ndarray:
    """Raw returns [episodes] of one episode in each of `episodes` evaluation environments."""
    envs = make_vector_env(config.env, episodes, "eval", seed)
    obs, _ = envs.reset()
    rng = np.random.default_rng([seed, 2])
    returns = np.zeros(episodes)
    finished = np.zeros(episodes, bool)
    while not finished.all():
        result = search(model, obs, config, "evaluate", rng)
        obs, rewards, terminated, truncated, _ = envs.step(result.action)
        returns += np.where(finished, 0.0, rewards)
        finished |= terminated | truncated
    envs.close()
    return returns
