"""The Gumbel pieces of the search, as pure functions on arrays (paper §4.1; Part B §3).

Shapes: n = number of nodes looked at together (usually one per root of the
batch), C = child slots per node; `valid` [n, C] marks the slots that exist
(a discrete node has |A| children, a continuous root K, an interior node 2).

The search calls them in this order at every node it scores:

    v_mix     = mixed_value(...)                      the node's value, mixing in visited Qs
    q_tilde   = completed_q(q, visits, v_mix)         unvisited children get v_mix
    q_hat     = normalize_q(q_tilde, ...)             into [0, 1]
    sigma     = sigma_transform(q_hat, visits)        (c_visit + max N) * c_scale * q_hat
    pi_prime  = improved_policy(logits, sigma)        softmax(logits + sigma)

and at the root, Gumbel top-k picks the first m candidates and sequential
halving keeps the better half of them, by g + logits + sigma, on a fixed
schedule.
"""

from __future__ import annotations

import math

import numpy as np

NEG_INF = -1e30


def gumbel_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard Gumbel(0, 1) samples: g = -log(-log(U))."""
    return rng.gumbel(size=shape)


def top_k_candidates(scores: np.ndarray, valid: np.ndarray, m: int) -> np.ndarray:
    """[B, C] scores -> [B, m] slot indices of the m best valid slots, best first.

    Ties are broken towards the lower slot index (a stable sort), so equal scores
    (zero logits, no noise) give the same answer on every machine (Part A §2).
    """
    masked = np.where(valid, scores, NEG_INF)
    return np.argsort(-masked, axis=-1, kind="stable")[:, :m]


def halving_schedule(num_simulations: int, m: int) -> list[tuple[int, int]]:
    """When sequential halving halves the root candidates (Part B §3.5).

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


def softmax(logits: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Softmax over the valid slots of each row; invalid slots get probability 0."""
    x = np.where(valid, logits, NEG_INF)
    x = x - x.max(axis=-1, keepdims=True)
    e = np.where(valid, np.exp(x), 0.0)
    return e / e.sum(axis=-1, keepdims=True)


def mixed_value(node_value: np.ndarray, node_visits: np.ndarray, prior: np.ndarray,
                q: np.ndarray, child_visits: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """v_mix: the node's value with the prior-weighted Q of its visited children mixed in.

        v_mix = (v + N * sum_{visited} pi(a) Q(a) / sum_{visited} pi(a)) / (1 + N)

    `node_value` [n] and `node_visits` [n] are what the q-transform variant uses
    (EZ-V2: the node's mean backed-up value and its visit count; Gumbel MuZero:
    the network's value and the sum of child visits); `prior` [n, C] is pi, the
    softmax of the node's logits over its valid slots. With no visited child the
    result is `node_value`.
    """
    visited = valid & (child_visits > 0)
    mass = np.where(visited, prior, 0.0).sum(-1)
    weighted_q = np.where(visited, prior * q, 0.0).sum(-1) / np.maximum(mass, 1e-12)
    mixed = (node_value + node_visits * weighted_q) / (1 + node_visits)
    return np.where(mass < 1e-6, node_value, mixed)


def completed_q(q: np.ndarray, child_visits: np.ndarray, v_mix: np.ndarray) -> np.ndarray:
    """Q(a) for visited children, v_mix for the others: [n, C]."""
    return np.where(child_visits > 0, q, v_mix[:, None])


def normalize_q(q_tilde: np.ndarray, valid: np.ndarray, low: np.ndarray | None,
                high: np.ndarray | None, delta: float) -> np.ndarray:
    """Min-max normalise completed Q values into [0, 1]: [n, C].

    With `low`/`high` [n] given (the `ezv2` transform) the range is the tree's
    own, over the returns of every simulated path; with None (the
    `gumbel_muzero` transform) it is the min and max of each node's completed
    Qs. The range is floored at `delta`; an empty range (no backup yet) gives 0.
    (The released code falls back to the raw Q clamped to [0, 1] there, Part B
    §7.2.11; every candidate is then equal anyway at a fresh root.)
    """
    if low is None or high is None:
        low = np.where(valid, q_tilde, np.inf).min(-1)
        high = np.where(valid, q_tilde, -np.inf).max(-1)
    empty = ~(high >= low)
    scale = np.maximum(high - low, delta)
    q_hat = np.clip((q_tilde - np.where(empty, 0.0, low)[:, None]) / scale[:, None], 0.0, 1.0)
    return np.where(empty[:, None] | ~valid, 0.0, q_hat)


def sigma_transform(q_hat: np.ndarray, child_visits: np.ndarray, valid: np.ndarray,
                    c_visit: float, c_scale: float) -> np.ndarray:
    """sigma(q_hat) = (c_visit + max_b N(b)) * c_scale * q_hat, max over the node's children."""
    max_visits = np.where(valid, child_visits, 0).max(-1)
    return (c_visit + max_visits)[:, None] * c_scale * q_hat


def improved_policy(logits: np.ndarray, sigma: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """pi' = softmax(logits + sigma(q_hat)) over valid slots: [n, C]."""
    return softmax(logits + sigma, valid)


def visited_only(policy: np.ndarray, child_visits: np.ndarray) -> np.ndarray:
    """The policy target of a sampled (continuous) root: pi' over its visited slots only.

    [n, C] -> [n, C], renormalised over the slots with N(a) > 0 (a row with no visited
    slot, or no mass outside them, is returned unchanged, bit for bit). A continuous root's K sampled actions all have the same prior
    (logits 0), so an action the search never evaluated differs from the others only
    by the v_mix its completed Q was given: keeping it in pi' would teach the policy
    to raise the likelihood of random samples. Restricting the softmax to the evaluated
    set is the same softmax(logits + sigma) over a smaller set, and equals pi' exactly
    when the search visits all K (m = K <= N, as the released configurations do).
    docs/algorithm.md, "The continuous policy target".
    """
    visited = child_visits > 0
    mass = np.where(visited, policy, 0.0).sum(-1, keepdims=True)
    outside = np.where(visited, 0.0, policy).sum(-1, keepdims=True)
    restricted = np.where(visited, policy, 0.0) / np.maximum(mass, 1e-30)
    return np.where((mass > 0) & (outside > 0), restricted, policy)  # else nothing to remove


def interior_choice(pi_prime: np.ndarray, child_visits: np.ndarray, node_visits: np.ndarray,
                    valid: np.ndarray) -> np.ndarray:
    """Below the root: argmax_a pi'(a) - N(a) / (1 + N(node)) (deterministic; lowest slot on ties)."""
    score = pi_prime - child_visits / (1.0 + node_visits[:, None])
    return np.argmax(np.where(valid, score, NEG_INF), axis=-1)


def root_choice(candidates: np.ndarray, child_visits: np.ndarray) -> np.ndarray:
    """At the root: the candidate with the fewest visits, the better-ranked one on ties.

    `candidates` [B, m] slot indices (best first); `child_visits` [B, C]. Returns [B] slots.
    """
    visits = np.take_along_axis(child_visits, candidates, axis=-1)
    return candidates[np.arange(len(candidates)), np.argmin(visits, axis=-1)]


def sequential_halving(candidates: np.ndarray, scores: np.ndarray, keep: int) -> np.ndarray:
    """Keep the `keep` best of the current candidates by `scores` [B, C]; best first.

    Ties keep the earlier candidate (a stable sort over the current order).
    """
    candidate_scores = np.take_along_axis(scores, candidates, axis=-1)
    order = np.argsort(-candidate_scores, axis=-1, kind="stable")[:, :keep]
    return np.take_along_axis(candidates, order, axis=-1)
