"""Search trees for B roots at once, as torch tensors on the model's device (paper §4.1).

Node 0 of every tree is its root; simulation s (1-based) creates node s in
every tree, so all trees have the same number of nodes and every per-node
quantity is a tensor of shape [B, nodes]:

    parent, slot, depth           where the node hangs (slot = which child of its parent)
    visits, value_sum             N(node) and the sum of every value backed up through it
    reward                        the predicted reward of the edge into the node
    prefix                        the value prefix predicted at the node (value-prefix models)
    network_value                 the value network's estimate at the node
    children [B, nodes, C]        node id of each child slot, -1 while unexpanded
    child_visits [B, nodes, C]    N of each child slot (0 while unexpanded)
    logits   [B, nodes, C]        the prior logits of the children (0 for sampled actions)
    prior    [B, nodes, C]        softmax of the logits over the node's children (set once per node)
    actions  [B, nodes, C, A]     continuous only: the action vector of each child slot

A node's children are its first `root_width` slots at the root (|A|, or the K
sampled actions) and its first `interior_width` below (|A|, or 2 sampled
actions); the node is always scored over exactly those. Statistics are
float64, indices int64. The statistics are read one node per root (`nodes`
[B]), grown one node per tree per simulation, and updated along one path per
tree, all with tensor operations: nothing is read back to the host until
`export`, so the same code runs on a CPU and, without waiting on it, on a GPU.

value(node) = value_sum / visits is the mean of the node's own network value
(the value of the leaf it was, backed up when it was expanded) and of every
return backed up through it since; at the root, of the initial value and every
return: the search-based value estimate (paper §4.3).
Q(node, a) = reward(child) + gamma * value(child).

`export(b, ...)` turns one root's tree into a `SearchTrace` (NumPy) for the visualizers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from ..config import SearchConfig
from . import gumbel


@dataclass
class SearchTrace:
    """One root's search, simulation by simulation, for drawing (viz/tree.py).

    Node arrays have one entry per node (node i was created by simulation i;
    the root is node 0). `visits[s]` and `values[s]` are the statistics after
    simulation s (row 0: before the first simulation).
    """

    parent: np.ndarray  # [n] int, -1 for the root
    slot: np.ndarray  # [n] int, child slot in the parent (the action index)
    depth: np.ndarray  # [n] int
    prior: np.ndarray  # [n] float, pi(slot | parent) from the parent's logits
    reward: np.ndarray  # [n] float, predicted reward of the edge into the node
    network_value: np.ndarray  # [n] float
    visits: np.ndarray  # [S+1, n] int
    values: np.ndarray  # [S+1, n] float (mean backed-up value; nan while unvisited)
    paths: list[list[int]]  # per simulation, the node ids from the root to the new leaf
    root_prior: np.ndarray  # [C] prior over the root's child slots
    root_gumbel: np.ndarray  # [C] Gumbel noise at the root (zeros without noise)
    root_completed_q: np.ndarray  # [C] completed Q at the end of the search
    improved_policy: np.ndarray  # [C]
    candidates: list[tuple[int, list[int]]]  # (after simulation, root slots still in the race)
    chosen_slot: int
    discount: float
    action_vectors: np.ndarray | None = None  # [n, A] continuous: the action into each node
    root_actions: np.ndarray | None = None  # [C, A] continuous: the root's sampled actions
    root_widened: np.ndarray | None = None  # [C] continuous: True for samples of the widened policy
    action_names: list[str] | None = field(default=None)

    @property
    def num_simulations(self) -> int:
        return len(self.paths)

    def q(self, simulation: int) -> np.ndarray:
        """[n] Q of the edge into each node after `simulation`: reward + gamma * value."""
        return self.reward + self.discount * self.values[simulation]


class Scores(NamedTuple):
    """The q-transform at one node per root (`Tree.scores`): [B, C] per child, [B] per node."""

    q_tilde: torch.Tensor  # completed Q: Q of visited children, v_mix for the others
    sigma: torch.Tensor  # sigma(q_hat) = (c_visit + max N) * c_scale * q_hat
    pi_prime: torch.Tensor  # the improved policy softmax(logits + sigma)
    child_visits: torch.Tensor  # N(a)
    node_visits: torch.Tensor  # N(node) [B]


class Tree:
    """Tensor storage and node statistics for B search trees (see the module docstring)."""

    def __init__(
        self,
        batch: int,
        num_nodes: int,
        root_width: int,
        interior_width: int,
        discount: float,
        search: SearchConfig,
        device: torch.device,
        action_dim: int | None = None,
    ):
        num_slots = max(root_width, interior_width)
        shape, slots = (batch, num_nodes), (batch, num_nodes, num_slots)
        self.batch, self.num_nodes, self.num_slots = batch, num_nodes, num_slots
        self.root_width, self.interior_width = root_width, interior_width
        self.discount, self.cfg = discount, search
        index: dict[str, Any] = dict(dtype=torch.int64, device=device)
        real: dict[str, Any] = dict(dtype=torch.float64, device=device)
        self.roots = torch.arange(batch, device=device)  # b, for indexing one node per root
        self.parent = torch.full(shape, -1, **index)
        self.slot = torch.full(shape, -1, **index)
        self.depth = torch.zeros(shape, **index)
        self.visits = torch.zeros(shape, **index)
        self.value_sum = torch.zeros(shape, **real)
        self.reward = torch.zeros(shape, **real)
        self.prefix = torch.zeros(shape, **real)
        self.network_value = torch.zeros(shape, **real)
        self.children = torch.full(slots, -1, **index)
        self.child_visits = torch.zeros(slots, **index)
        self.logits = torch.zeros(slots, **real)
        self.prior = torch.zeros(slots, **real)
        self.actions = (
            torch.zeros((*slots, action_dim), dtype=torch.float32, device=device)
            if action_dim is not None
            else None
        )
        # ezv2 q-transform: min and max of the Q of every edge on every simulated path
        self.q_min = torch.full((batch,), torch.inf, **real)
        self.q_max = torch.full((batch,), -torch.inf, **real)

    # ---------------------------------------------------------------- statistics

    def set_prior(self, node: int) -> None:
        """Compute the prior of `node` in every tree from its logits, once its children exist."""
        width = self.root_width if node == 0 else self.interior_width
        self.prior[:, node, :width] = torch.softmax(self.logits[:, node, :width], dim=-1)

    def child_q(self, nodes: torch.Tensor, width: int):
        """For one node per root [B]: (q, child_visits, logits, prior), each [B, width] over the
        node's children; q = r + gamma v(child), 0 for unvisited children."""
        b, b_column = self.roots, self.roots[:, None]
        children = self.children[b, nodes, :width]
        child_visits = self.child_visits[b, nodes, :width]
        safe = children.clamp(min=0)  # unexpanded (-1): read node 0, masked below
        child_value = self.value_sum[b_column, safe] / child_visits.clamp(min=1)
        q = (self.reward[b_column, safe] + self.discount * child_value) * (child_visits > 0)
        return q, child_visits, self.logits[b, nodes, :width], self.prior[b, nodes, :width]

    def scores(self, nodes: torch.Tensor, width: int, q_transform: gumbel.QTransform) -> Scores:
        """`q_transform` and what follows it at one node per root [B] over its `width`
        children (paper §4.1; docs/algorithm.md)."""
        q, child_visits, logits, prior = self.child_q(nodes, width)
        node_visits = self.visits[self.roots, nodes]
        stats = gumbel.NodeStats(
            q,
            child_visits,
            prior,
            node_value=self.value_sum[self.roots, nodes] / node_visits.clamp(min=1),
            node_visits=node_visits,
            network_value=self.network_value[self.roots, nodes],
            q_min=self.q_min,
            q_max=self.q_max,
        )
        q_tilde, q_hat = q_transform(stats, self.cfg.value_minmax_delta)
        sigma = gumbel.sigma_transform(q_hat, child_visits, self.cfg.c_visit, self.cfg.c_scale)
        return Scores(
            q_tilde, sigma, gumbel.improved_policy(logits, sigma), child_visits, node_visits
        )

    # ---------------------------------------------------------------- growth

    def add_nodes(
        self,
        node: int,
        parent: torch.Tensor,
        slot: torch.Tensor,
        reward: torch.Tensor,
        prefix: torch.Tensor,
        value: torch.Tensor,
    ) -> None:
        """Hang node `node` of every tree below (parent [B], slot [B]), with the predicted
        reward, value prefix and value of the edge and node [B]."""
        b = self.roots
        self.children[b, parent, slot] = node
        self.parent[:, node], self.slot[:, node] = parent, slot
        self.depth[:, node] = self.depth[b, parent] + 1
        self.reward[:, node], self.prefix[:, node], self.network_value[:, node] = (
            reward,
            prefix,
            value,
        )

    def backup(self, path: list[torch.Tensor], leaf: int, leaf_value: torch.Tensor) -> None:
        """Back the leaf values [B] up to every root (paper §4.1; MuZero's backup).

        `path[k]` [B] is the node at depth k of each root's simulated path, -1 where that
        path ended higher up (path[0] is the root, 0). The new leaf gets its value; then,
        walking up, each node gets the discounted return g <- reward(child) + gamma g of
        the path below it added to its value sum and one more visit, and every such g
        (the Q of an edge) widens the tree's min-max range.
        """
        b = self.roots
        g = leaf_value.to(torch.float64)
        self.value_sum[:, leaf] += g
        self.visits[:, leaf] += 1
        child = torch.full_like(b, leaf)
        for nodes in reversed(path):
            on = nodes >= 0  # this root's path reaches this depth
            node = torch.where(on, nodes, child)
            q = self.reward[b, child] + self.discount * g
            g = torch.where(on, q, g)
            self.q_min = torch.where(on, torch.minimum(self.q_min, q), self.q_min)
            self.q_max = torch.where(on, torch.maximum(self.q_max, q), self.q_max)
            # += on (b, node) pairs, one per root: index_add_ does it in one operation, not three
            flat = b * self.num_nodes + node  # (b, node) in the trees seen as one row of nodes
            self.value_sum.view(-1).index_add_(0, flat, q * on)
            self.visits.view(-1).index_add_(0, flat, on.long())
            self.child_visits.view(-1).index_add_(
                0, flat * self.num_slots + self.slot[b, child], on.long()
            )
            child = node

    # ---------------------------------------------------------------- export

    def export(
        self,
        b: int,
        snapshots: list[tuple[torch.Tensor, torch.Tensor]],
        paths: list[list[int]],
        gumbel_noise: np.ndarray,
        candidates: list[tuple[int, list[int]]],
        chosen_slot: int,
        improved: np.ndarray,
        completed: np.ndarray,
    ) -> SearchTrace:
        """The SearchTrace of root b from the per-simulation snapshots the search recorded
        (read back to the host here, once, at the end of the search)."""
        parent, slot = self.parent[b].cpu().numpy(), self.slot[b].cpu().numpy()
        prior_rows = self.prior[b].cpu().numpy()  # [n, C], set when each node was expanded
        prior = np.zeros(self.num_nodes)
        prior[1:] = prior_rows[parent[1:], slot[1:]]
        visits = torch.stack([v for v, _ in snapshots]).cpu().numpy()
        sums = torch.stack([s for _, s in snapshots]).cpu().numpy()
        values = np.where(visits > 0, sums / np.maximum(visits, 1), np.nan)
        k = self.root_width  # the root's children
        action_vectors = root_actions = None
        if self.actions is not None:
            actions = self.actions[b].cpu().numpy()  # [n, C, A]
            action_vectors = np.zeros((self.num_nodes, actions.shape[-1]), np.float32)
            action_vectors[1:] = actions[parent[1:], slot[1:]]
            root_actions = actions[0, :k]
        return SearchTrace(
            parent=parent,
            slot=slot,
            depth=self.depth[b].cpu().numpy(),
            prior=prior,
            reward=self.reward[b].cpu().numpy(),
            network_value=self.network_value[b].cpu().numpy(),
            visits=visits,
            values=values,
            paths=paths,
            root_prior=prior_rows[0, :k],
            root_gumbel=gumbel_noise[:k],
            root_completed_q=completed[:k],
            improved_policy=improved[:k],
            candidates=candidates,
            chosen_slot=chosen_slot,
            discount=self.discount,
            action_vectors=action_vectors,
            root_actions=root_actions,
        )
