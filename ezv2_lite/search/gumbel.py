"""The Gumbel pieces of the search, as pure torch functions (paper §4.1; docs/algorithm.md).

Shapes: n = number of nodes looked at together (one per root of the batch),
C = the node's children (|A| at a discrete node, K at a continuous root, 2
below it; the tree scores each node over exactly its children). Every
function works on the tensors' own device and never reads them back to
the host, so a search on a GPU stays on the GPU.

The search calls them in this order at every node it scores:

    v_mix     = mixed_value(...)                      the node's value, mixing in visited Qs
    q_tilde   = completed_q(q, visits, v_mix)         unvisited children get v_mix
    q_hat     = normalize_q(q_tilde, ...)             into [0, 1]
    sigma     = sigma_transform(q_hat, visits)        (c_visit + max N) * c_scale * q_hat
    pi_prime  = improved_policy(logits, sigma)        softmax(logits + sigma)

The first three are the *q-transform*, passed to the tree as a function (`QTransform`):
`ezv2_q_transform` (the paper's) or `gumbel_muzero_q_transform` (`Q_TRANSFORMS` by name).

and at the root, Gumbel top-k picks the first m candidates and sequential
halving keeps the better half of them, by g + logits + sigma, on a fixed
schedule (`halving_schedule`, plain Python: the host knows it in advance).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import NamedTuple

import numpy as np
import torch


def gumbel_noise(
    rng: np.random.Generator, shape: tuple[int, ...], device: torch.device
) -> torch.Tensor:
    """Standard Gumbel(0, 1) samples g = -log(-log(U)), float64 on `device`.

    They are drawn from a NumPy generator, so a seed gives the same noise on any device.
    """
    return torch.from_numpy(rng.gumbel(size=shape)).to(device)


def top_k_candidates(scores: torch.Tensor, m: int) -> torch.Tensor:
    """[B, C] scores -> [B, m] slot indices of the m best slots, best first.

    Ties are broken towards the lower slot index (a stable sort), so equal scores
    (zero logits, no noise) give the same answer on every machine.
    """
    return torch.sort(scores, dim=-1, descending=True, stable=True).indices[:, :m]


def halving_schedule(num_simulations: int, m: int) -> list[tuple[int, int]]:
    """When sequential halving halves the root candidates (paper §4.1, Danihelka et al. 2022).

    Returns [(after_simulation, candidates_left), ...]. The first phase gives
    every one of the m candidates max(floor(N / (log2(m) m)), 1) visits; each
    later phase gives the survivors the same share; the last halving happens
    after the final simulation. Examples: (N=32, m=16) -> [(16, 8), (24, 4),
    (32, 2)]; (N=16, m=8) -> [(8, 4), (12, 2), (16, 1)].
    """
    if m <= 1:
        return []
    log_m = math.log2(m)
    boundary = min(max(int(num_simulations // (log_m * m)), 1) * m, num_simulations)
    schedule, left = [], m
    while left > 1:
        left //= 2
        schedule.append((boundary, left))
        if boundary >= num_simulations:
            break
        if left > 2:
            boundary += max(int(num_simulations // (log_m * left)), 1) * left
        else:
            boundary = num_simulations
        boundary = min(boundary, num_simulations)
    return schedule


def mixed_value(
    node_value: torch.Tensor,
    node_visits: torch.Tensor,
    prior: torch.Tensor,
    q: torch.Tensor,
    child_visits: torch.Tensor,
) -> torch.Tensor:
    """v_mix: the node's value with the prior-weighted Q of its visited children mixed in.

        v_mix = (v + N * sum_{visited} pi(a) Q(a) / sum_{visited} pi(a)) / (1 + N)

    `node_value` [n] and `node_visits` [n] are what the q-transform variant uses
    (EZ-V2: the node's mean backed-up value and its visit count; Gumbel MuZero:
    the network's value and the sum of child visits); `prior` [n, C] is pi, the
    softmax of the node's logits. With no visited child the result is `node_value`.
    """
    visited_prior = prior * (child_visits > 0)
    mass = visited_prior.sum(-1)
    weighted_q = (visited_prior * q).sum(-1) / mass.clamp(min=1e-12)
    mixed = (node_value + node_visits * weighted_q) / (1 + node_visits)
    return torch.where(mass < 1e-6, node_value, mixed)


def completed_q(q: torch.Tensor, child_visits: torch.Tensor, v_mix: torch.Tensor) -> torch.Tensor:
    """Q(a) for visited children, v_mix for the others: [n, C]."""
    return torch.where(child_visits > 0, q, v_mix[:, None])


def normalize_q(
    q_tilde: torch.Tensor, low: torch.Tensor | None, high: torch.Tensor | None, delta: float
) -> torch.Tensor:
    """Min-max normalise completed Q values into [0, 1]: [n, C].

    With `low`/`high` [n] given (the `ezv2` transform) the range is the tree's
    own, over the returns of every simulated path; with None (the
    `gumbel_muzero` transform) it is the min and max of each node's completed
    Qs. The range is floored at `delta`; an empty range (no backup yet) gives 0.
    (The released code falls back to the raw Q clamped to [0, 1] there; every
    candidate is then equal anyway at a fresh root.)
    """
    if low is None or high is None:
        low, high = q_tilde.amin(-1), q_tilde.amax(-1)
    empty = ~(high >= low)
    scale = (high - low).clamp(min=delta)
    q_hat = ((q_tilde - torch.where(empty, 0.0, low)[:, None]) / scale[:, None]).clamp(0.0, 1.0)
    return q_hat.masked_fill(empty[:, None], 0.0)


class NodeStats(NamedTuple):
    """What a q-transform reads at one node per root: [n] per node, [n, C] per child."""

    q: torch.Tensor  # Q(a) = r(a) + gamma * mean value below a (0 where unvisited)
    child_visits: torch.Tensor  # N(a)
    prior: torch.Tensor  # pi(a)
    node_value: torch.Tensor  # the node's mean backed-up value [n]
    node_visits: torch.Tensor  # N(node) [n]
    network_value: torch.Tensor  # the value network's estimate at the node [n]
    q_min: torch.Tensor  # the lowest and highest return any simulation backed up, per tree [n]
    q_max: torch.Tensor


QTransform = Callable[[NodeStats, float], tuple[torch.Tensor, torch.Tensor]]
"""q_transform(stats, delta) -> (q_tilde, q_hat), both [n, C]: completed Qs and their
normalisation into [0, 1], with `delta` the floor of the min-max range."""


def ezv2_q_transform(s: NodeStats, delta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """EfficientZero V2's: v_mix from the node's mean backed-up value, and a min-max range
    over the whole tree's returns."""
    v_mix = mixed_value(s.node_value, s.node_visits, s.prior, s.q, s.child_visits)
    q_tilde = completed_q(s.q, s.child_visits, v_mix)
    return q_tilde, normalize_q(q_tilde, s.q_min, s.q_max, delta)


def gumbel_muzero_q_transform(s: NodeStats, delta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Gumbel MuZero's: v_mix from the value network's estimate weighted by the children's
    visits, and a min-max range over the node's own completed Qs."""
    v_mix = mixed_value(s.network_value, s.child_visits.sum(-1), s.prior, s.q, s.child_visits)
    q_tilde = completed_q(s.q, s.child_visits, v_mix)
    return q_tilde, normalize_q(q_tilde, None, None, delta)


Q_TRANSFORMS: dict[str, QTransform] = {
    "ezv2": ezv2_q_transform,
    "gumbel_muzero": gumbel_muzero_q_transform,
}
"""The q-transforms by their names in `SearchConfig.q_transform`."""


def sigma_transform(
    q_hat: torch.Tensor, child_visits: torch.Tensor, c_visit: float, c_scale: float
) -> torch.Tensor:
    """sigma(q_hat) = (c_visit + max_b N(b)) * c_scale * q_hat, max over the node's children."""
    max_visits = child_visits.amax(-1).to(q_hat.dtype)
    return (c_visit + max_visits)[:, None] * c_scale * q_hat


def improved_policy(logits: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """pi' = softmax(logits + sigma(q_hat)) over the node's children: [n, C]."""
    return torch.softmax(logits + sigma, dim=-1)


def visited_only(policy: torch.Tensor, child_visits: torch.Tensor) -> torch.Tensor:
    """The policy target of a sampled (continuous) root: pi' over its visited slots only.

    [n, C] -> [n, C], renormalised over the slots with N(a) > 0 (a row with no visited
    slot, or no mass outside them, is returned unchanged, bit for bit). A continuous
    root's K sampled actions all have the same prior (logits 0), so an action the search
    never evaluated differs from the others only by the v_mix its completed Q was given:
    keeping it in pi' would teach the policy to raise the likelihood of random samples.
    Restricting the softmax to the evaluated set is the same softmax(logits + sigma) over
    a smaller set, and equals pi' exactly when the search visits all K (m = K <= N, as
    the released configurations do). docs/algorithm.md, "The continuous policy target".
    """
    visited = child_visits > 0
    mass = torch.where(visited, policy, 0.0).sum(-1, keepdim=True)
    outside = torch.where(visited, 0.0, policy).sum(-1, keepdim=True)
    restricted = torch.where(visited, policy, 0.0) / mass.clamp(min=1e-30)
    return torch.where((mass > 0) & (outside > 0), restricted, policy)  # else nothing to remove


def interior_choice(
    pi_prime: torch.Tensor, child_visits: torch.Tensor, node_visits: torch.Tensor
) -> torch.Tensor:
    """Below the root: argmax_a pi'(a) - N(a) / (1 + N(node)) (deterministic; lowest slot on ties).

    [n, C] pi' and child visits, [n] node visits -> [n] slots.
    """
    score = pi_prime - child_visits / (1.0 + node_visits[:, None].to(pi_prime.dtype))
    return score.argmax(-1)


def root_choice(candidates: torch.Tensor, child_visits: torch.Tensor) -> torch.Tensor:
    """At the root: the candidate with the fewest visits, the better-ranked one on ties.

    `candidates` [B, m] slot indices (best first); `child_visits` [B, C]. Returns [B] slots.
    """
    visits = child_visits.gather(-1, candidates)
    return candidates.gather(-1, visits.argmin(-1, keepdim=True))[:, 0]


def sequential_halving(candidates: torch.Tensor, scores: torch.Tensor, keep: int) -> torch.Tensor:
    """Keep the `keep` best of the current candidates [B, m] by `scores` [B, C]; best first.

    Ties keep the earlier candidate (a stable sort over the current order).
    """
    candidate_scores = scores.gather(-1, candidates)
    order = torch.sort(candidate_scores, dim=-1, descending=True, stable=True).indices[:, :keep]
    return candidates.gather(-1, order)


@cache
def root_visits_before(num_simulations: int, m: int) -> tuple[int, ...]:
    """For each simulation 1..N, how often the root child it descends into was visited before.

    The root's choices follow from the schedule alone: every candidate gets the same
    number of visits in each phase (`root_choice` goes round them in rank order), so
    which candidates survive a halving never changes these counts. The search uses them
    as the depth to which a simulation may have to descend (a child visited v times
    has a subtree of v nodes), which it therefore knows without reading the tree. The
    bound is that of a chain: with few candidates (m = 1 or 2) the walks grow to about
    N^2 / (2m) levels per search, where an early exit would stop at the real depth.
    Computed on the host by running `root_choice` and `sequential_halving` on m dummy
    candidates, once per (N, m).
    """
    candidates = torch.arange(m, device="cpu")[None]
    visits = torch.zeros(1, m, dtype=torch.int64, device="cpu")
    schedule, before = dict(halving_schedule(num_simulations, m)), []
    for sim in range(1, num_simulations + 1):
        slot = int(root_choice(candidates, visits)[0])
        before.append(int(visits[0, slot]))
        visits[0, slot] += 1
        if sim in schedule:
            candidates = sequential_halving(
                candidates, torch.zeros(1, m, device="cpu"), schedule[sim]
            )
    return tuple(before)
