"""The Gumbel search of EfficientZero V2, batched over roots (paper §4.1-4.2; Part B §3).

    result = search(model, observations, config, mode="act", rng=rng)

One call searches B roots together: one `initial` inference for the roots,
then one `recurrent` inference per simulation for all B trees at once.
Each simulation

1. **selects** a path: at the root, the candidate (kept by Gumbel top-k and
   sequential halving) with the fewest visits; below it, the child maximising
   pi'(a) - N(a) / (1 + N(node)) with pi' = softmax(logits + sigma(q_hat));
2. **expands** the leaf with the model: its latent state, reward (or value
   prefix), value and policy; a continuous leaf samples 2 children from its policy;
3. **backs up** the leaf value along the path;
4. **halves** the root candidates when the schedule says so, keeping the best
   by g + logits + sigma(q_hat).

Modes (Part B §3.7): `act` and `reanalyze` add Gumbel noise at discrete roots
and sample 4 policy + 12 widened actions at continuous roots; `evaluate` uses
neither (16 policy samples). The result holds the chosen action, the improved
policy softmax(logits + sigma(q_hat)) over the root's children (the policy
target; at a continuous root, over the sampled actions the search visited),
the root's search value (mean of the initial value and every backed-up return:
the SVE target) and, on request, a trace of one root's tree.

With `search.scalar_tree`, a search of a single root without a trace runs the
same algorithm on the plain-Python tree of `scalar.py` instead (issue #9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ..config import Config, SearchConfig
from ..envs import EnvSpec
from ..model.fused import fused_recurrent
from ..model.networks import EZModel, ModelOutput
from ..model.policy import squash_params
from . import gumbel
from .sampling import root_std_multipliers, sample_children, sample_root_actions
from .scalar import ScalarSearch
from .tree import SearchTrace, Tree

Mode = Literal["act", "reanalyze", "evaluate"]


@dataclass
class SearchResult:
    """What one batched search returns (B roots; C = |A| discrete or K sampled actions)."""

    action: np.ndarray            # [B] int64 (discrete) or [B, A] float32 (continuous)
    action_slot: np.ndarray       # [B] index of the chosen root child
    improved_policy: np.ndarray   # [B, C] softmax(logits + sigma(q_hat)): the policy target
    root_value: np.ndarray        # [B] search-based value estimate (SVE)
    network_value: np.ndarray     # [B] the value network's estimate at the root
    visit_counts: np.ndarray      # [B, C]
    sampled_actions: np.ndarray | None = None  # [B, K, A] continuous root actions
    trace: SearchTrace | None = None


def search_budget(cfg: SearchConfig, spec: EnvSpec) -> tuple[int, int]:
    """(simulations N, root candidates m) for an environment (Part B §2.4).

    Discrete with `num_top_actions=None` follows the Atari rule: m = 2 for fewer
    than 4 actions (and then N = 4), 4 for fewer than 16, else 8. Continuous
    with None: m = K, every sampled action starts in the race.
    """
    if spec.is_discrete:
        actions = spec.num_actions
        if cfg.num_top_actions is None:
            m = 2 if actions < 4 else 4 if actions < 16 else 8
            return (4 if actions < 4 else cfg.num_simulations), m
        return cfg.num_simulations, min(cfg.num_top_actions, actions)
    k = cfg.num_sampled_actions
    return cfg.num_simulations, min(cfg.num_top_actions or k, k)


def _to_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().float().cpu().numpy().astype(np.float64)


@torch.no_grad()
def search(model: EZModel, observations: np.ndarray | torch.Tensor | None, config: Config,
           mode: Mode, rng: np.random.Generator, trace_root: int | None = None,
           root: ModelOutput | None = None) -> SearchResult:
    """Run the Gumbel search from a batch of observations [B, *obs_shape].

    `root`: the model's `initial` output for those observations, when the caller
    already has it (reanalysis does); the observations may then be None.
    `trace_root`: index of a root whose tree to return as `result.trace`.
    """
    if mode not in ("act", "reanalyze", "evaluate"):
        raise ValueError(f"mode must be act, reanalyze or evaluate (got {mode!r})")
    if not model.training:
        return _search(model, observations, config, mode, rng, trace_root, root)
    model.eval()  # BatchNorm uses its running statistics while searching
    try:
        return _search(model, observations, config, mode, rng, trace_root, root)
    finally:
        model.train()


def _search(model: EZModel, observations, config: Config, mode: Mode, rng: np.random.Generator,
            trace_root: int | None, root: ModelOutput | None) -> SearchResult:
    spec, cfg = model.spec, config.search
    device = next(model.parameters()).device
    discrete = spec.is_discrete
    num_simulations, m = search_budget(cfg, spec)
    if root is None:  # the roots: one initial inference for all of them
        root = model.initial(torch.as_tensor(np.asarray(observations), device=device))
    recurrent = fused_recurrent(model) if cfg.fused_inference else model.recurrent
    batch = root.latent.shape[0]
    if cfg.scalar_tree and batch == 1 and trace_root is None:
        return SearchResult(**ScalarSearch(model, root, config, mode, rng, recurrent,
                                           num_simulations, m).run())
    b_all = np.arange(batch)
    b_dev = torch.arange(batch, device=device)
    root_value = _to_numpy(model.scalar_value(root.value_logits))
    k = spec.num_actions if discrete else cfg.num_sampled_actions
    slots = k if discrete else max(k, cfg.interior_children)
    tree = Tree(batch, num_simulations + 1, slots, config.agent_discount, cfg,
                None if discrete else spec.action_dim)
    latents = torch.empty((num_simulations + 1, *root.latent.shape), device=device)
    latents[0] = root.latent
    hidden_store = None
    if model.value_prefix:
        h0, c0 = model.initial_hidden(batch, device)
        hidden_store = (torch.zeros((num_simulations + 1, *h0.shape), device=device),
                        torch.zeros((num_simulations + 1, *c0.shape), device=device))
    tree.valid[:, 0, :k] = True
    sampled = None
    if discrete:
        tree.logits[:, 0, :k] = _to_numpy(root.policy)
    else:
        mu, sigma = squash_params(root.policy)
        sampled = sample_root_actions(mu, sigma, cfg, mode, rng)
        tree.actions[:, 0, :k] = sampled.cpu().numpy()
    tree.set_prior(0)
    tree.network_value[:, 0] = tree.value_sum[:, 0] = root_value
    tree.visits[:, 0] = 1

    # ---- Gumbel top-k at the root
    noisy = mode != "evaluate" and (discrete or cfg.continuous_root_gumbel)
    g = gumbel.gumbel_noise(rng, (batch, slots)) if noisy else np.zeros((batch, slots))
    g = np.where(tree.valid[:, 0], g, 0.0)
    m = min(m, k)
    candidates = gumbel.top_k_candidates(g + tree.logits[:, 0], tree.valid[:, 0], m)
    schedule = dict(gumbel.halving_schedule(num_simulations, m))
    roots = np.zeros(batch, np.int64)

    tracing = trace_root is not None
    snapshots, paths, history = [], [], [(0, candidates[trace_root].tolist())] if tracing else []
    if tracing:
        snapshots.append((tree.visits[trace_root].copy(), tree.value_sum[trace_root].copy()))

    for sim in range(1, num_simulations + 1):
        # 1. select: root candidate with the fewest visits, then the interior rule
        slot = gumbel.root_choice(candidates, tree.child_visits[:, 0])
        node = roots.copy()
        path = [(b_all, roots)]  # per depth: (which roots are still descending, their node)
        while True:
            child = tree.children[b_all, node, slot]
            moving = child >= 0
            if not moving.any():
                break
            bi, nodes = b_all[moving], child[moving]
            node[moving] = nodes
            path.append((bi, nodes))
            _, _, pi_prime, child_visits, valid = tree.scores(bi, nodes, tree.interior_width)
            slot[moving] = gumbel.interior_choice(pi_prime, child_visits, tree.visits[bi, nodes], valid)

        # 2. expand the leaf below (node, slot) with one recurrent inference for all roots
        parent, parent_dev = node, torch.from_numpy(node).to(device)
        if discrete:
            action = torch.from_numpy(slot).to(device)
        else:
            action = torch.from_numpy(tree.actions[b_all, parent, slot]).to(device)
        if hidden_store is None:
            out = recurrent(latents[parent_dev, b_dev], action)
        else:
            out = recurrent(latents[parent_dev, b_dev], action,
                            (hidden_store[0][parent_dev, b_dev], hidden_store[1][parent_dev, b_dev]))
        latents[sim] = out.latent
        value, prediction = model.scalar_value_reward(out)
        depth = tree.depth[b_all, parent] + 1
        if model.value_prefix:
            # The LSTM restarts below nodes at depth multiples of the horizon (the root too):
            # a child of such a node predicts its own reward, others a running sum.
            parent_reset = tree.depth[b_all, parent] % model.lstm_horizon == 0
            reward = np.where(parent_reset, prediction, prediction - tree.prefix[b_all, parent])
            reset_here = torch.from_numpy(depth % model.lstm_horizon == 0).to(device)[:, None]
            hidden_store[0][sim] = torch.where(reset_here, 0.0, out.hidden[0])
            hidden_store[1][sim] = torch.where(reset_here, 0.0, out.hidden[1])
        else:
            reward = prediction
        tree.children[b_all, parent, slot] = sim
        tree.parent[:, sim], tree.slot[:, sim], tree.depth[:, sim] = parent, slot, depth
        tree.reward[:, sim], tree.prefix[:, sim], tree.network_value[:, sim] = reward, prediction, value
        if discrete:
            tree.logits[:, sim, :k] = _to_numpy(out.policy)
            tree.valid[:, sim, :k] = True
        else:
            mu, sigma = squash_params(out.policy)
            n = cfg.interior_children
            tree.actions[:, sim, :n] = sample_children(mu, sigma, n, rng).cpu().numpy()
            tree.valid[:, sim, :n] = True
        tree.set_prior(sim)

        # 3. back up the leaf value
        tree.backup(path, sim, value)

        # 4. sequential halving on schedule
        if sim in schedule:
            _, sigma_q, _, _, _ = tree.scores(b_all, roots)
            candidates = gumbel.sequential_halving(candidates, g + tree.logits[:, 0] + sigma_q,
                                                   schedule[sim])
            if tracing:
                history.append((sim, candidates[trace_root].tolist()))
        if tracing:
            paths.append([int(nodes[roots == trace_root][0]) for roots, nodes in path
                          if (roots == trace_root).any()] + [sim])
            snapshots.append((tree.visits[trace_root].copy(), tree.value_sum[trace_root].copy()))

    # ---- outputs
    q_tilde, _, improved, child_visits, _ = tree.scores(b_all, roots)
    if not discrete:  # a sampled root's target covers the actions the search evaluated
        improved = gumbel.visited_only(improved, child_visits)
    chosen = candidates[:, 0]
    action = chosen if discrete else tree.actions[b_all, 0, chosen]
    trace = None
    if tracing:
        trace = tree.export(trace_root, snapshots, paths, g[trace_root], history,
                            int(chosen[trace_root]), improved[trace_root], q_tilde[trace_root])
        if not discrete:
            trace.root_widened = root_std_multipliers(cfg, mode) > 1
    return SearchResult(
        action=action.copy(), action_slot=chosen.copy(), improved_policy=improved[:, :k],
        root_value=tree.value_sum[:, 0] / tree.visits[:, 0], network_value=root_value,
        visit_counts=child_visits[:, :k],
        sampled_actions=None if sampled is None else sampled.cpu().numpy(), trace=trace)
