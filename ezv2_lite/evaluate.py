"""Evaluation: whole episodes with the `evaluate`-mode search, raw returns (docs/algorithm.md §6).

Evaluation plays `episodes` environments side by side, one episode each, in the
evaluation protocol (no life-loss terminals, raw rewards, the evaluation time
limit) with the search in `evaluate` mode: no Gumbel noise, and for continuous
actions 16 samples from the policy without widening.

Atari scores are also reported human-normalised (paper §6.1): (score - random) /
(human - random), with the standard random-policy and human scores of the 26 Atari
100k games (data/atari100k_random_human.csv), so a random agent scores 0 and the
human reference 1. Over several runs the paper reports the mean and the median; the
IQM (interquartile mean: the mean of the middle 50 % of the scores) is the robust
aggregate of Agarwal et al. (2021).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import gymnasium
import numpy as np

from .config import Config, ConfigError, EnvConfig
from .envs import env_spec, make_env
from .model.networks import EZModel, predict_values
from .progress import finish, progress_bar
from .search import SearchTrace, search

ATARI_REFERENCE_CSV = Path(__file__).parent / "data" / "atari100k_random_human.csv"


class EvaluationStopped(Exception):
    """`evaluate` was asked to stop (a SIGTERM in a training run) before every episode ended."""


@dataclass(frozen=True)
class Step:
    """One agent step of one evaluation episode, as `play` yields it (C: root children)."""

    episode: int  # which episode (environment) of the `play`
    t: int  # agent step within the episode, 0 first
    observation: np.ndarray  # what the agent saw [*obs_shape]
    frame: np.ndarray | None  # [H, W, 3] uint8: what a person sees (`render=True`)
    action: np.ndarray  # the action taken: int64 scalar or [A] float32
    action_slot: int  # its root child
    reward: float  # the raw reward it earned
    done: bool  # the episode ended with this step
    improved_policy: np.ndarray  # [C] the search's improved policy at the root
    visit_counts: np.ndarray  # [C]
    root_value: float  # the search's value estimate of the observation
    network_value: float  # the value network's
    sampled_actions: np.ndarray | None = None  # [C, A] continuous root actions
    trace: SearchTrace | None = None  # the whole search (`trace=True`, for episode 0)
    value_after: float | None = None  # the value network's estimate of the observation reached,
    #                                    where known (the last step of an episode cut short)


def evaluation_rng(seed: int) -> np.random.Generator:
    """The random numbers of the evaluation searches of episodes seeded `seed`, `seed` + 1, ..."""
    return np.random.default_rng([seed, 2])


def play(
    model: EZModel,
    config: Config,
    episodes: int,
    seed: int,
    progress: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    render: bool = False,
    trace: bool = False,
) -> Generator[Step, None, None]:
    """Play one episode in each of `episodes` evaluation environments; yield every `Step`.

    Every step searches only the environments whose episode is still running, and steps
    only those, so one long episode costs one root per step, not `episodes`. An episode
    ends at its terminal or at the evaluation time limit (`env.eval_max_episode_steps`,
    27,000 agent steps for Atari). `progress` shows a bar of agent steps against that
    limit. `should_stop` is asked before each step; when it says so the environments are
    closed and EvaluationStopped is raised. `render` adds the frame a person sees before
    each action; `trace` keeps episode 0's whole search at each of its steps (for drawing).
    """
    envs = [make_env(config.env, "eval", seed + i) for i in range(episodes)]
    if render and envs[0].render_mode != "rgb_array":
        for env in envs:
            env.close()
        raise ConfigError(
            f"{config.env.suite}:{config.env.name} draws no frames (no rgb_array rendering), "
            "so its episodes cannot be shown or recorded; evaluate it without frames"
        )
    cap = config.env.resolved().eval_max_episode_steps
    names = env_spec(envs[0], config.env).action_names if trace else None
    bar = progress_bar(
        total=cap,
        unit="agent step",
        disable=not progress,
        dynamic_ncols=True,
        leave=False,
        desc=f"evaluating {episodes} episode{'' if episodes == 1 else 's'}",
    )
    try:
        obs = [env.reset()[0] for env in envs]
        rng = evaluation_rng(seed)
        running, t = list(range(episodes)), 0
        while running:
            if should_stop():
                raise EvaluationStopped(
                    f"evaluation stopped with {len(running)} of {episodes} episodes still running"
                )
            traced = 0 if trace and running[0] == 0 else None
            result = search(
                model,
                np.stack([obs[i] for i in running]),
                config,
                "evaluate",
                rng,
                trace_root=traced,
            )
            if result.trace is not None:
                result.trace.action_names = list(names) if names else None
            still = []
            for row, (i, action) in enumerate(zip(running, result.action, strict=True)):
                frame = cast(np.ndarray, envs[i].render()) if render else None  # (rgb_array)
                seen = obs[i]
                obs[i], reward, terminated, truncated, _ = envs[i].step(action)
                done = terminated or truncated
                yield Step(
                    episode=i,
                    t=t,
                    observation=seen,
                    frame=frame,
                    action=action,
                    action_slot=int(result.action_slot[row]),
                    reward=float(reward),
                    done=done,
                    improved_policy=result.improved_policy[row],
                    visit_counts=result.visit_counts[row],
                    root_value=float(result.root_value[row]),
                    network_value=float(result.network_value[row]),
                    sampled_actions=None
                    if result.sampled_actions is None
                    else result.sampled_actions[row],
                    trace=result.trace if row == traced else None,
                )
                if not done:
                    still.append(i)
            running, t = still, t + 1
            bar.update(1)
            bar.set_postfix(running=len(running), refresh=False)
        finish(bar)  # (ended before the cap: done, not cut short)
    finally:
        bar.close()
        for env in envs:
            env.close()


def evaluate(
    model: EZModel,
    config: Config,
    episodes: int,
    seed: int,
    progress: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    observe: Callable[[Step], None] | None = None,
) -> np.ndarray:
    """Raw returns [episodes] of one episode in each of `episodes` evaluation environments
    (`play`'s episodes, its rewards summed). `observe` is shown every step (`RootDiagnostics`).
    When `should_stop` says so, EvaluationStopped is raised (no partial returns are reported);
    Ctrl-C raises KeyboardInterrupt as usual, after closing the environments."""
    returns = np.zeros(episodes)
    with closing(play(model, config, episodes, seed, progress, should_stop)) as steps:
        for step in steps:
            returns[step.episode] += step.reward
            if observe is not None:
                observe(step)
    return returns


@dataclass(frozen=True)
class RootActionCheck:
    """The search's Q of each root action against what taking it led to (`root_action_check`).
    C: the root's children (|A| discrete actions, or the K sampled continuous ones)."""

    actions: np.ndarray  # [C] action ids, or [C, A] the sampled actions
    predicted_q: np.ndarray  # [C] the search's completed Q (visited: backed up; others: v_mix)
    visited: np.ndarray  # [C] bool, whether the search visited the action
    rollout_return: np.ndarray  # [C] sum_h gamma^h r_h over `horizon` agent steps, + gamma^H V(s_H)
    chosen: int  # the child the search chose
    horizon: int


def root_action_check(
    model: EZModel, config: Config, seed: int, start_step: int = 0, horizon: int = 20
) -> RootActionCheck:
    """Is the search's choice at a root backed by what its actions really lead to?

    Plays one evaluation episode (seed `seed`) with the agent for `start_step` steps, searches
    its root, then for each root action c takes c in a copy of that state (the episode replayed
    from its seed) and lets the agent act for `horizon` - 1 more steps, all copies side by side.
    `rollout_return[c]` is their discounted return plus the value network's estimate of the
    state reached (nothing after a terminal): what Q(s, c) = r + gamma V(s') estimates, when the
    agent's policy follows. A model that extrapolates shows up as a Q that ranks the actions
    otherwise than the rollouts do. For DeepMind Control every step pays in [0, 1] per frame, so
    a short rollout already separates actions that drop the pole from those that keep it up.
    Rewards are the evaluation protocol's (raw, not Atari's clipped ones)."""
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 agent step (got {horizon})")
    rng = evaluation_rng(seed)  # as `play` draws them: the same episode
    with make_env(config.env, "eval", seed) as env:
        obs, prefix = env.reset()[0], []
        for _ in range(start_step):
            action = search(model, obs[None], config, "evaluate", rng).action[0]
            obs, _, terminated, truncated, _ = env.step(action)
            prefix.append(action)
            if terminated or truncated:
                raise ValueError(
                    f"the episode of seed {seed} ended after {len(prefix)} steps: "
                    f"choose a start_step below {len(prefix)}"
                )
    result = search(model, obs[None], config, "evaluate", rng, trace_root=0)
    trace = result.trace
    assert trace is not None
    actions = (
        trace.root_actions if trace.root_actions is not None else np.arange(len(trace.root_prior))
    )
    gamma = config.agent_discount
    copies = [make_env(config.env, "eval", seed) for _ in actions]
    reached: list[Any] = [None] * len(actions)  # the observation each copy reached
    returns = np.zeros(len(actions))
    running, terminal = np.ones(len(actions), bool), np.zeros(len(actions), bool)
    steps = np.zeros(len(actions), np.int64)  # agent steps each copy took
    try:
        for env in copies:  # each copy replays the episode up to the root
            env.reset()
            for action in prefix:
                env.step(action)
        for h in range(horizon):
            alive = np.flatnonzero(running)
            if len(alive) == 0:
                break
            taken = (
                actions[alive]
                if h == 0
                else search(  # then the agent's own actions
                    model, np.stack([reached[i] for i in alive]), config, "evaluate", rng
                ).action
            )
            for i, action in zip(alive, taken, strict=True):
                reached[i], reward, terminated, truncated, _ = copies[i].step(action)
                # (gymnasium types a reward as SupportsFloat, which has no *)
                returns[i] += gamma**h * reward  # type: ignore[operator]
                running[i], terminal[i] = not (terminated or truncated), terminated
                steps[i] = h + 1
        # (a time limit is not a terminal: what follows it counts)
        going_on = np.flatnonzero(~terminal)
        if len(going_on):  # the value of the states reached, discounted by the steps taken to them
            values = predict_values(model, np.stack([reached[i] for i in going_on]))
            returns[going_on] += gamma ** steps[going_on] * values
    finally:
        for env in copies:
            env.close()
    visited = np.zeros(len(actions), bool)
    visited[trace.slot[trace.parent == 0]] = (
        True  # a root child has a node once a simulation reached it
    )
    return RootActionCheck(
        actions=np.asarray(actions),
        predicted_q=np.asarray(trace.root_completed_q),
        visited=visited,
        rollout_return=returns,
        chosen=int(trace.chosen_slot),
        horizon=horizon,
    )


class RootDiagnostics:
    """What the evaluation's roots show about the search's biases, for a metrics line
    (`evaluate(..., observe=diagnostics)`, then `summary()`):

    - the spread of the value network's estimates at the roots, over every step of every
      episode (batch norm's running statistics can squeeze it: a value head that barely
      separates good states from bad ones gives the search little to choose with);
    - the actions of each episode's first `first_steps` steps: for continuous actions their
      mean over the episodes, step by step [first_steps, A]; for discrete ones each action's
      share of those steps [|A|]. An agent that pushes one way from the start shows it here.

    `num_actions`: |A| for discrete actions, None for continuous ones.
    """

    def __init__(self, num_actions: int | None, first_steps: int = 16):
        # num_actions: None if continuous
        self.num_actions, self.first_steps = (
            num_actions,
            first_steps,
        )
        self.values: list[float] = []
        self.first_actions: dict[int, list[np.ndarray]] = {}  # step t -> the actions taken at t

    def __call__(self, step: Step) -> None:
        self.values.append(step.network_value)
        if step.t < self.first_steps:
            self.first_actions.setdefault(step.t, []).append(np.asarray(step.action))

    def summary(self) -> dict:
        values = np.asarray(self.values)
        out: dict[str, Any] = {
            "eval_root_value_mean": float(values.mean()),
            "eval_root_value_std": float(values.std()),
        }
        steps = [np.stack(self.first_actions[t]) for t in sorted(self.first_actions)]
        if self.num_actions is None:  # continuous: [first_steps, A]
            out["eval_first_action_mean"] = [a.mean(0).round(4).tolist() for a in steps]
        else:  # discrete: [|A|]
            counts = np.bincount(np.concatenate(steps).astype(np.int64), minlength=self.num_actions)
            out["eval_first_action_shares"] = (counts / counts.sum()).round(4).tolist()
        return out


def policy_returns(
    env: EnvConfig, act: Callable[[gymnasium.Env], object], episodes: int, seed: int
) -> np.ndarray:
    """Raw returns [episodes] of a fixed policy, `act(environment) -> action`, under the evaluation
    protocol, in episodes seeded seed, seed + 1, ... (the action space too)."""
    returns = np.zeros(episodes)
    for i in range(episodes):
        environment = make_env(env, "eval", seed + i)
        environment.action_space.seed(seed + i)
        environment.reset()
        done = False
        while not done:
            _, reward, terminated, truncated, _ = environment.step(act(environment))
            returns[i] += reward
            done = terminated or truncated
        environment.close()
    return returns


def random_policy_returns(env: EnvConfig, episodes: int, seed: int) -> np.ndarray:
    """Raw returns [episodes] of uniformly random actions under the evaluation protocol: the
    score a normalised scale calls 0 (for Atari the published random scores play that part)."""
    return policy_returns(
        env, lambda environment: environment.action_space.sample(), episodes, seed
    )


def atari_reference() -> dict[str, tuple[float, float]]:
    """{ALE id: (random score, human score)} for the 26 Atari 100k games."""
    with open(ATARI_REFERENCE_CSV, newline="") as f:
        return {
            row["ale_id"]: (float(row["random"]), float(row["human"])) for row in csv.DictReader(f)
        }


def human_normalized(game: str, score: float) -> float:
    """(score - random) / (human - random) for a game given as `Pong` or `ALE/Pong-v5`."""
    from .envs.atari import atari_id

    reference = atari_reference()
    key = atari_id(game)
    if key not in reference:
        raise ValueError(
            f"{game!r} is not one of the 26 Atari 100k games with reference scores "
            f"({', '.join(k[4:-3] for k in reference)})"
        )
    random, human = reference[key]
    return (score - random) / (human - random)


def interquartile_mean(scores) -> float:
    """Mean of the scores left after dropping the lowest and highest quarter (floor(n/4) each,
    as scipy.stats.trim_mean(x, 0.25)); equals the mean for fewer than 4 scores."""
    x = np.sort(np.asarray(scores, dtype=float))
    cut = len(x) // 4
    return float(x[cut : len(x) - cut].mean())
