"""The reanalyze step: learning targets for a sampled batch (paper §4.3-4.4; docs/algorithm.md §4).

Every target is recomputed when a batch is sampled, with the *lagged target
model* (200-400 learner steps old), for the U+1 positions t..t+U of each window:

    reward_targets           the rewards (or value prefixes) the model should predict
    td_value_targets         n-step TD: sum gamma^i r + gamma^n V_target(o_{t+n}),
                             stopping only at true terminals (docs/algorithm.md §4.2)
    search_targets           a fresh search from every position: its root value is the
                             search-based value estimate (SVE), its improved policy the
                             policy target (continuous: also the K sampled actions and the
                             chosen one)
    mixed_value_targets      the paper's mixed value target: TD for fresh data, SVE for
                             stale data, once training is past a threshold

`reanalyze` runs them all and returns a `Targets`. Shapes: B windows, U unroll
steps, C = |A| (discrete) or K sampled actions (continuous).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np

from .config import Config
from .model.networks import EZModel, predict_values
from .replay import Replay, SampledBatch
from .returns import n_step_return, value_prefixes
from .search import search


@dataclass
class Targets:
    """What the learner regresses onto for one batch."""

    rewards: np.ndarray  # [B, U]   reward (or value prefix) after action t+k
    td_values: np.ndarray  # [B, U+1] n-step TD values
    search_values: np.ndarray  # [B, U+1] search-based value estimates (root values)
    values: np.ndarray  # [B, U+1] the value target used (the mixed rule's choice)
    use_td: np.ndarray  # [B] True where the TD target was chosen
    policies: np.ndarray  # [B, U+1, C] improved policies (zeros where no state exists)
    sampled_actions: np.ndarray | None = None  # [B, U+1, K, A] continuous root actions
    chosen_actions: np.ndarray | None = None  # [B, U+1, A] continuous: the search's choice
    unvisited_mass: np.ndarray | None = None  # [B, U+1] policy-target mass on root actions
    #                                            the search never visited (a diagnostic)


def reward_targets(
    replay: Replay, batch: SampledBatch, value_prefix: bool, horizon: int
) -> np.ndarray:
    """[B, U]: r_{t+k} for k = 0..U-1, or with a value prefix the running sum of the rewards
    since the last LSTM reset (resets before k = 0, horizon, 2 horizon, ...). 0 past the end."""
    window = batch.positions[:, None] + np.arange(replay.unroll)  # [B, U]
    rewards = replay.lane_steps(batch.episodes[:, None], window, "rewards")  # 0 past the end
    return value_prefixes(rewards, horizon) if value_prefix else rewards


def td_value_targets(
    replay: Replay, batch: SampledBatch, target_model: EZModel, td_steps: int | None = None
) -> np.ndarray:
    """[B, U+1] n-step TD targets z_{t+j} with the target model's bootstrap values.

    n = `td_steps`, by default the config's (the replay's). n' = min(n, T - c) for position
    c = t + j, so the bootstrap never passes the episode's last observation; there it is 0
    after a true terminal and V(o_T) after a time limit. Positions past the end get 0.
    """
    U, gamma = replay.unroll, replay.discount
    n = replay.td_steps if td_steps is None else td_steps
    episodes = batch.episodes[:, None]  # [B, 1]
    lengths = replay.length[episodes]  # [B, 1] T
    terminal = replay.terminal[episodes]  # [B, 1]
    c = batch.positions[:, None] + np.arange(U + 1)  # [B, U+1] positions
    exists = c <= lengths
    steps = np.clip(lengths - c, 0, n)  # n' (0 past the end)
    # each row's rewards r_t .. r_{t+U+n-1}, zero past its episode's end
    rewards = replay.lane_steps(episodes, batch.positions[:, None] + np.arange(U + n), "rewards")
    ahead = rewards[:, np.arange(U + 1)[:, None] + np.arange(n)]  # [B, U+1, n] r_{c+k}
    # bootstrap V_target(o_{c+n'}) at every position, in one inference (past the end: unused)
    observations = replay.stacked_observations(episodes, np.minimum(c + steps, lengths))
    values = predict_values(target_model, observations.flatten(0, 1)).reshape(c.shape)
    bootstrap = np.where(terminal & (c + steps == lengths), 0.0, values)
    return np.where(exists, n_step_return(ahead, steps, bootstrap, gamma), 0.0)


class SearchTargets(NamedTuple):
    """What a fresh search from every position of a batch gives the targets."""

    values: np.ndarray  # [B, U+1] the root values: search-based value estimates (SVE)
    policies: np.ndarray  # [B, U+1, C] the improved policies
    sampled_actions: np.ndarray | None  # [B, U+1, K, A] continuous: the sampled root actions
    chosen_actions: np.ndarray | None  # [B, U+1, A] continuous: the search's choice
    unvisited_mass: np.ndarray  # [B, U+1] the policies' mass on root actions never visited


def search_targets(
    replay: Replay,
    batch: SampledBatch,
    target_model: EZModel,
    config: Config,
    rng: np.random.Generator,
) -> SearchTargets:
    """A `reanalyze`-mode search from all B*(U+1) positions with the target model.

    Positions past the end, and the last observation of an episode that ended in a terminal,
    get zeros.
    """
    B, U1 = batch.observations.shape[:2]
    flat = batch.observations.flatten(0, 1)
    result = search(target_model, flat, config, "reanalyze", rng)
    # a terminal state (the last observation of an episode that ended in one) has no value
    # and no policy
    last = (replay.length[batch.episodes] - batch.positions)[:, None]  # [B, 1] T - t
    terminal_state = replay.terminal[batch.episodes][:, None] & (np.arange(U1) == last)
    valid = batch.exists * ~terminal_state
    values = result.root_value.reshape(B, U1) * valid
    policies = result.improved_policy.reshape(B, U1, -1) * valid[..., None]
    unvisited = np.where(result.visit_counts == 0, result.improved_policy, 0.0).sum(-1)
    sampled = chosen = None
    if result.sampled_actions is not None:
        sampled = result.sampled_actions.reshape(B, U1, *result.sampled_actions.shape[1:])
        chosen = result.action.reshape(B, U1, -1)
    return SearchTargets(values, policies, sampled, chosen, unvisited.reshape(B, U1) * valid)


def fresh_mask(indices: np.ndarray, num_transitions: int, window: int) -> np.ndarray:
    """[B] True for transitions among the newest `window` ones (docs/algorithm.md §4.4)."""
    return indices >= num_transitions - window


def mixed_value_targets(
    td: np.ndarray, sve: np.ndarray, fresh: np.ndarray, train_step: int, config: Config
) -> tuple[np.ndarray, np.ndarray]:
    """The value target and where TD was used (docs/algorithm.md §4.4).

    `mixed`: TD everywhere before `mixed_value_start_step` learner steps; after it,
    TD for fresh samples and the search-based value estimate for stale ones.
    `td` / `sve` use one kind everywhere.
    """
    kind = config.optim.value_target
    if kind == "td":
        use_td = np.ones(len(td), bool)
    elif kind == "sve":
        use_td = np.zeros(len(td), bool)
    else:
        use_td = fresh | (train_step < config.optim.mixed_value_start_step)
    return np.where(use_td[:, None], td, sve), use_td


def reanalyze(
    replay: Replay,
    batch: SampledBatch,
    target_model: EZModel,
    config: Config,
    train_step: int,
    rng: np.random.Generator,
) -> Targets:
    """All targets of a batch, computed with the lagged target model."""
    m = config.model
    rewards = reward_targets(replay, batch, m.value_prefix, m.lstm_horizon)
    td = td_value_targets(replay, batch, target_model)
    searched = search_targets(replay, batch, target_model, config, rng)
    fresh = fresh_mask(batch.indices, replay.num_transitions, config.optim.mixed_value_window)
    values, use_td = mixed_value_targets(td, searched.values, fresh, train_step, config)
    return Targets(
        rewards=rewards,
        td_values=td,
        search_values=searched.values,
        values=values,
        use_td=use_td,
        policies=searched.policies,
        sampled_actions=searched.sampled_actions,
        chosen_actions=searched.chosen_actions,
        unvisited_mass=searched.unvisited_mass,
    )


class TargetSource(Protocol):
    """Where the learner step takes each batch with its targets: a `Reanalyzer` (this process)
    or a `ReanalysisWorker` (a second process, one batch ahead)."""

    def next(self, train_step: int) -> tuple[SampledBatch, Targets]: ...

    def set_target(self, model: EZModel) -> None: ...

    def checkpoint_state(self) -> tuple[Mapping[str, Any], dict | None]: ...

    def close(self) -> None: ...


class Reanalyzer:
    """Prioritised batches with fresh targets, reanalysed in this process with the lagged
    target model (every sample is reanalysed when it is learned from: docs/algorithm.md §4).
    `ReanalysisWorker` has the same methods and does the same work one batch ahead in a
    second process; the learner step cannot tell them apart (only a resume treats the
    worker apart, to send it the batch it had prefetched)."""

    def __init__(
        self, replay: Replay, target_model: EZModel, config: Config, rng: np.random.Generator
    ):
        self.replay, self.target_model, self.config, self.rng = replay, target_model, config, rng

    def next(self, train_step: int) -> tuple[SampledBatch, Targets]:
        """The batch and targets for learner step `train_step`."""
        batch = self.replay.sample(self.config.optim.batch_size)
        return batch, reanalyze(
            self.replay, batch, self.target_model, self.config, train_step, self.rng
        )

    def set_target(self, model: EZModel) -> None:
        """The refreshed target (here the same module, already updated in place)."""
        self.target_model = model

    def checkpoint_state(self) -> tuple[Mapping[str, Any], None]:
        """(the reanalysis rng's state, no prefetched batch): what a resume needs."""
        return self.rng.bit_generator.state, None

    def close(self) -> None:
        pass
