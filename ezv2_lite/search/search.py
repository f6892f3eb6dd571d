"""The Gumbel search of EfficientZero V2, batched over roots (paper §4.1-4.2).

    result = search(model, observations, config, mode="act", rng=rng)

One call searches B roots together: one `initial` inference for the roots,
then one `recurrent` inference per simulation for all B trees at once. The
trees are tensors on the model's device (`tree.py`); a simulation reads
nothing back to the host, so on a GPU the whole search is queued without
waiting. Each simulation is four named steps:

1. `simulate`: select a path. At the root, the candidate (kept by Gumbel
   top-k and sequential halving) with the fewest visits; below it, the child
   maximising pi'(a) - N(a) / (1 + N(node)) with pi' = softmax(logits + sigma(q_hat));
2. `expand`: one model step for the leaves of all B paths: the new nodes'
   latent state, reward (or value prefix), value and policy; a continuous
   node samples 2 children from its policy;
3. `Tree.backup`: the leaf value backed up along each path;
4. `halve`: on the schedule, keep the better half of the root candidates
   by g + logits + sigma(q_hat).

The model step and its decoding come in as functions (`step`, `decode`), so a
faster model step can be composed in from above without touching this file.

Modes: `act` and `reanalyze` add Gumbel noise at discrete roots and sample
4 policy + 12 widened actions at continuous roots; `evaluate` uses neither
(16 policy samples). The result holds the chosen action, the improved policy
softmax(logits + sigma(q_hat)) over the root's children (the policy target;
at a continuous root, over the sampled actions the search visited), the root's
search value (mean of the initial value and every backed-up return: the SVE
target, paper §4.3) and, on request, a trace of one root's tree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ..config import Config, SearchConfig
from ..envs import EnvSpec
from ..model.networks import EZModel, Hidden, ModelOutput, lstm_restarts_after
from ..model.policy import squash_params
from . import gumbel
from .sampling import root_std_multipliers, sample_children, sample_root_actions, standard_normal
from .tree import SearchTrace, Tree

Mode = Literal["act", "reanalyze", "evaluate"]
Step = Callable[..., ModelOutput]
"""step(latent [B, ...], action [B] or [B, A], hidden or None) -> ModelOutput (`EZModel.recurrent`).
Its outputs need only stay valid until the next call (a CUDA-graph step reuses their memory):
`expand` copies them into the tree at once."""
Decode = Callable[[ModelOutput], torch.Tensor]
"""decode(output) -> [2, B] float64: value and reward (or value prefix) (`EZModel.scalar_value_reward`)."""

FASTER_STEPS: dict[str, Callable[[EZModel], Step]] = {}
"""Faster forms of `EZModel.recurrent` by name, registered from above by `ezv2_lite.accel`
(this module never imports it): "fused" (`runtime.fused_inference`) and "compiled"
(`runtime.compile_step`)."""


def model_step(model: EZModel, config: Config) -> Step:
    """The model step a search calls: `model.recurrent`, or a registered faster form of it."""
    name = (
        "fused"
        if config.runtime.fused_inference
        else "compiled"
        if config.runtime.compile_step
        else None
    )
    if name is None:
        return model.recurrent
    if name not in FASTER_STEPS:
        raise RuntimeError(
            f"the {name} model step is provided by ezv2_lite.accel: "
            "`import ezv2_lite.accel` first (the ezv2-lite command does)"
        )
    return FASTER_STEPS[name](model)


@dataclass
class SearchResult:
    """What one batched search returns (B roots; C = |A| discrete or K sampled actions)."""

    action: np.ndarray  # [B] int64 (discrete) or [B, A] float32 (continuous)
    action_slot: np.ndarray  # [B] index of the chosen root child
    improved_policy: np.ndarray  # [B, C] softmax(logits + sigma(q_hat)): the policy target
    root_value: np.ndarray  # [B] search-based value estimate (SVE)
    network_value: np.ndarray  # [B] the value network's estimate at the root
    visit_counts: np.ndarray  # [B, C]
    sampled_actions: np.ndarray | None = None  # [B, K, A] continuous root actions
    trace: SearchTrace | None = None


def search_budget(cfg: SearchConfig, spec: EnvSpec) -> tuple[int, int]:
    """(simulations N, root candidates m) for an environment.

    Discrete with `num_top_actions=None` follows the released Atari rule: m = 2
    for fewer than 4 actions (and then N = 4), 4 for fewer than 16, else 8.
    Continuous with None: m = K, every sampled action starts in the race.
    """
    if spec.is_discrete:
        actions = spec.num_actions
        assert actions is not None
        if cfg.num_top_actions is None:
            m = 2 if actions < 4 else 4 if actions < 16 else 8
            return (4 if actions < 4 else cfg.num_simulations), m
        return cfg.num_simulations, min(cfg.num_top_actions, actions)
    k = cfg.num_sampled_actions
    return cfg.num_simulations, min(cfg.num_top_actions or k, k)


@torch.no_grad()
def search(
    model: EZModel,
    observations: np.ndarray | torch.Tensor | None,
    config: Config,
    mode: Mode,
    rng: np.random.Generator,
    trace_root: int | None = None,
    root: ModelOutput | None = None,
) -> SearchResult:
    """Run the Gumbel search from a batch of observations [B, *obs_shape].

    `root`: the model's `initial` output for those observations, when the caller
    already has it (reanalysis does); the observations may then be None.
    `trace_root`: index of a root whose tree to return as `result.trace`.
    """
    if mode not in ("act", "reanalyze", "evaluate"):
        raise ValueError(f"mode must be act, reanalyze or evaluate (got {mode!r})")
    training = model.training
    if training:
        model.eval()  # BatchNorm uses its running statistics while searching
    try:
        if root is None:  # the roots: one initial inference for all of them
            device = next(model.parameters()).device
            root = model.initial(torch.as_tensor(observations, device=device))
        done = run_search(
            root,
            model_step(model, config),
            model.scalar_value_reward,
            model,
            config,
            mode,
            rng,
            trace_root,
        )
        return done.to_host()
    finally:
        if training:  # (a recursive train()/eval() walks every module: only when needed)
            model.train()


class SearchState:
    """One batched search: the tree, the model states of its nodes, the root candidates, the
    random numbers (drawn up front) and, for one traced root, what each simulation did.
    Everything lives on the model's device until `to_host`."""

    def __init__(
        self,
        root: ModelOutput,
        model: EZModel,
        config: Config,
        mode: Mode,
        rng: np.random.Generator,
        trace_root: int | None = None,
    ):
        spec, cfg = model.spec, config.search
        self.cfg, self.mode, self.discrete = cfg, mode, spec.is_discrete
        self.q_transform = gumbel.Q_TRANSFORMS[cfg.q_transform]
        self.value_prefix, self.horizon = model.value_prefix, model.lstm_horizon
        self.num_simulations, m = search_budget(cfg, spec)
        batch, device = root.latent.shape[0], root.latent.device
        root_width = spec.num_actions if self.discrete else cfg.num_sampled_actions  # |A| or K
        interior = spec.num_actions if self.discrete else cfg.interior_children
        assert root_width is not None and interior is not None
        self.root_width = root_width
        tree = self.tree = Tree(
            batch,
            self.num_simulations + 1,
            self.root_width,
            interior,
            config.agent_discount,
            cfg,
            device,
            None if self.discrete else spec.action_dim,
        )
        # the model state of every node: latents [nodes, B, ...], LSTM (h, c) [nodes, B, H]
        self.latents = torch.empty((self.num_simulations + 1, *root.latent.shape), device=device)
        self.latents[0] = root.latent
        self.hidden: Hidden | None = None
        if self.value_prefix:
            zeros = model.initial_hidden(batch, device)
            assert zeros is not None  # (a value-prefix model has an LSTM)
            h0, c0 = zeros
            self.hidden = (
                torch.zeros((self.num_simulations + 1, *h0.shape), device=device),
                torch.zeros((self.num_simulations + 1, *c0.shape), device=device),
            )

        self.root_value = model.scalar_value(root.value_logits).double()
        self.sampled = None
        if self.discrete:
            tree.logits[:, 0, : self.root_width] = root.policy.double()
        else:
            mu, sigma = squash_params(root.policy)
            self.sampled = sample_root_actions(mu, sigma, cfg, mode, rng)
            assert tree.actions is not None
            tree.actions[:, 0, : self.root_width] = self.sampled
        tree.set_prior(0)
        tree.network_value[:, 0] = tree.value_sum[:, 0] = self.root_value
        tree.visits[:, 0] = 1

        # Gumbel top-k at the root, and every random number the simulations will use
        noisy = mode != "evaluate" and (self.discrete or cfg.continuous_root_gumbel)
        self.g = (
            gumbel.gumbel_noise(rng, (batch, self.root_width), device)
            if noisy
            else torch.zeros((batch, self.root_width), dtype=torch.float64, device=device)
        )
        self.m = min(m, self.root_width)
        self.candidates = gumbel.top_k_candidates(
            self.g + tree.logits[:, 0, : self.root_width], self.m
        )
        self.schedule = dict(gumbel.halving_schedule(self.num_simulations, self.m))
        self.depth_bound = gumbel.root_visits_before(self.num_simulations, self.m)
        self.child_noise: torch.Tensor | None = None
        if not self.discrete:
            assert spec.action_dim is not None
            self.child_noise = standard_normal(
                rng, (self.num_simulations, batch, cfg.interior_children, spec.action_dim), device
            )

        self.trace_root = (
            trace_root  # its candidates, paths and statistics, simulation by simulation
        )
        self.history: list[tuple[int, torch.Tensor]] = []
        self.paths: list[torch.Tensor] = []
        self.snapshots: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.record(0, [])

    def record(self, sim: int, path: list[torch.Tensor]) -> None:
        """Keep the traced root's candidates (when they changed), path and statistics after `sim`."""
        b = self.trace_root
        if b is None:
            return
        if sim == 0 or sim in self.schedule:
            self.history.append((sim, self.candidates[b].clone()))
        if sim > 0:
            self.paths.append(torch.stack(path)[:, b])
        self.snapshots.append((self.tree.visits[b].clone(), self.tree.value_sum[b].clone()))

    def to_host(self) -> SearchResult:
        """The result, read back to the host: the only host reads of a search."""
        tree, b = self.tree, self.trace_root
        at_root = tree.scores(torch.zeros_like(tree.roots), self.root_width, self.q_transform)
        q_tilde, improved, child_visits = at_root.q_tilde, at_root.pi_prime, at_root.child_visits
        if not self.discrete:  # a sampled root's target covers the actions the search evaluated
            improved = gumbel.visited_only(improved, child_visits)
        chosen_slot = self.candidates[:, 0]
        if self.discrete:
            action = chosen_slot
        else:
            assert tree.actions is not None
            action = tree.actions[tree.roots, 0, chosen_slot]
        root_value = tree.value_sum[:, 0] / tree.visits[:, 0]
        improved_policy, visit_counts, chosen = (
            x.cpu().numpy() for x in (improved, child_visits, chosen_slot)
        )
        trace = None
        if b is not None:
            g = self.g.cpu().numpy()
            paths = [
                [n for n in p.tolist() if n >= 0] + [sim] for sim, p in enumerate(self.paths, 1)
            ]
            trace = tree.export(
                b,
                self.snapshots,
                paths,
                g[b],
                [(after, c.tolist()) for after, c in self.history],
                int(chosen[b]),
                improved_policy[b],
                q_tilde[b].cpu().numpy(),
            )
            if not self.discrete:
                trace.root_widened = np.array(root_std_multipliers(self.cfg, self.mode)) > 1
        return SearchResult(
            action=action.cpu().numpy(),
            action_slot=chosen,
            improved_policy=improved_policy,
            root_value=root_value.cpu().numpy(),
            network_value=self.root_value.cpu().numpy(),
            visit_counts=visit_counts,
            sampled_actions=None if self.sampled is None else self.sampled.cpu().numpy(),
            trace=trace,
        )


def simulate(
    s: SearchState, depth_bound: int
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Select a path in every tree, from the root to a child slot not expanded yet (§4.1).

    Returns the leaf's parent [B], the slot to expand below it [B], and the path:
    path[k] [B] is the node at depth k (-1 where a root's path ended higher up). The
    walk takes `depth_bound` steps down, enough for the deepest tree (see
    `gumbel.root_visits_before`); a root whose path has ended stays where it is.
    """
    tree = s.tree
    slot = gumbel.root_choice(s.candidates, tree.child_visits[:, 0])
    node = torch.zeros_like(slot)
    path = [node]
    for _ in range(depth_bound):
        child = tree.children[tree.roots, node, slot]  # -1 where that child is not expanded yet
        moving = child >= 0
        node = torch.where(moving, child, node)
        path.append(child)  # (not `node`: a path that has ended records -1 from here down)
        here = tree.scores(node, tree.interior_width, s.q_transform)
        choice = gumbel.interior_choice(here.pi_prime, here.child_visits, here.node_visits)
        slot = torch.where(moving, choice, slot)
    return node, slot, path


def expand(
    s: SearchState, sim: int, parent: torch.Tensor, slot: torch.Tensor, step: Step, decode: Decode
) -> torch.Tensor:
    """Create node `sim` of every tree below (parent, slot) [B] with one model step (§4.1),
    and return its value [B] (float64) for the backup.

    With a value-prefix model the LSTM restarts below nodes at depth multiples of the
    horizon (the root too): a child of such a node predicts its own reward, the others
    a running sum, from which the reward of the edge is the difference.
    """
    tree, b = s.tree, s.tree.roots
    if s.discrete:
        action = slot
    else:
        assert tree.actions is not None
        action = tree.actions[b, parent, slot]
    hidden = None if s.hidden is None else (s.hidden[0][parent, b], s.hidden[1][parent, b])
    out = step(s.latents[parent, b], action, hidden)
    s.latents[sim] = out.latent
    value, prediction = decode(out)
    parent_depth = tree.depth[b, parent]
    if s.value_prefix:
        assert s.hidden is not None and out.hidden is not None
        parent_reset = lstm_restarts_after(parent_depth, s.horizon)
        reward = torch.where(parent_reset, prediction, prediction - tree.prefix[b, parent])
        reset_here = lstm_restarts_after(parent_depth + 1, s.horizon)[:, None]
        s.hidden[0][sim] = torch.where(reset_here, 0.0, out.hidden[0])
        s.hidden[1][sim] = torch.where(reset_here, 0.0, out.hidden[1])
    else:
        reward = prediction
    tree.add_nodes(sim, parent, slot, reward, prediction, value)
    if s.discrete:
        tree.logits[:, sim, : tree.interior_width] = out.policy.double()
    else:
        mu, sigma = squash_params(out.policy)
        assert tree.actions is not None and s.child_noise is not None
        tree.actions[:, sim, : tree.interior_width] = sample_children(
            mu, sigma, s.child_noise[sim - 1]
        )
    tree.set_prior(sim)
    return value


def halve(s: SearchState, keep: int) -> None:
    """Sequential halving: keep the `keep` best root candidates by g + logits + sigma(q_hat)."""
    sigma = s.tree.scores(torch.zeros_like(s.tree.roots), s.root_width, s.q_transform).sigma
    scores = s.g + s.tree.logits[:, 0, : s.root_width] + sigma
    s.candidates = gumbel.sequential_halving(s.candidates, scores, keep)


@torch.no_grad()
def run_search(
    root: ModelOutput,
    step: Step,
    decode: Decode,
    model: EZModel,
    config: Config,
    mode: Mode,
    rng: np.random.Generator,
    trace_root: int | None = None,
) -> SearchState:
    """The search loop, from the roots' model output [B]: N simulations, each `simulate`,
    `expand`, `Tree.backup` and, on the schedule, `halve`. `model` supplies the spec, the
    root value decoding and the LSTM's initial state, `step` and `decode` the model step.
    Returns the finished search, still on the device (`SearchState.to_host` reads it)."""
    s = SearchState(root, model, config, mode, rng, trace_root)
    for sim in range(1, s.num_simulations + 1):
        parent, slot, path = simulate(s, s.depth_bound[sim - 1])
        value = expand(s, sim, parent, slot, step, decode)
        s.tree.backup(path, sim, value)
        if sim in s.schedule:
            halve(s, s.schedule[sim])
        s.record(sim, path)
    return s
