"""Search trees for B roots at once, as arrays (Part A §4; Part B §3.1).

Node 0 of every tree is its root; the simulation s (1-based) creates node s in
every tree, so all trees have the same number of nodes and every per-node
quantity is an array of shape [B, nodes]:

    parent, slot, depth           where the node hangs (slot = which child of its parent)
    visits, value_sum             N(node) and the sum of every value backed up through it
    reward                        the predicted reward of the edge into the node
    prefix                        the value prefix predicted at the node (value-prefix models)
    network_value                 the value network's estimate at the node
    children [B, nodes, C]        node id of each child slot, -1 while unexpanded
    child_visits [B, nodes, C]    N of each child slot (0 while unexpanded)
    logits   [B, nodes, C]        the prior logits of the children (0 for sampled actions)
    prior    [B, nodes, C]        softmax of the logits over the valid slots (set once per node)
    valid    [B, nodes, C]        which slots exist (|A|; K at a continuous root, 2 below)
    actions  [B, nodes, C, A]     continuous only: the action vector of each child slot

value(node) = value_sum / visits is the mean of the root's initial value and
of every return backed up through the node (the search-based value estimate at
the root, paper §4.3). Q(node, a) = reward(child) + gamma * value(child).

`export(b)` turns one root's tree into a `SearchTrace` for the visualizers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config import SearchConfig
from . import gumbel


@dataclass
class SearchTrace:
    """One root's search, simulation by simulation, for drawing (viz/tree.py).

    Node arrays have one entry per node (node i was created by simulation i;
    the root is node 0). `visits[s]` and `values[s]` are the statistics after
    simulation s (row 0: before the first simulation).
    """

    parent: np.ndarray            # [n] int, -1 for the root
    slot: np.ndarray              # [n] int, child slot in the parent (the action index)
    depth: np.ndarray             # [n] int
    prior: np.ndarray             # [n] float, pi(slot | parent) from the parent's logits
    reward: np.ndarray            # [n] float, predicted reward of the edge into the node
    network_value: np.ndarray     # [n] float
    visits: np.ndarray            # [S+1, n] int
    values: np.ndarray            # [S+1, n] float (mean backed-up value; nan while unvisited)
    paths: list[list[int]]        # per simulation, the node ids from the root to the new leaf
    root_prior: np.ndarray        # [C] prior over the root's child slots
    root_gumbel: np.ndarray       # [C] Gumbel noise at the root (zeros without noise)
    root_completed_q: np.ndarray  # [C] completed Q at the end of the search
    improved_policy: np.ndarray   # [C]
    candidates: list[tuple[int, list[int]]]  # (after simulation, root slots still in the race)
    chosen_slot: int
    discount: float
    action_vectors: np.ndarray | None = None  # [n, A] continuous: the action into each node
    root_actions: np.ndarray | None = None    # [C, A] continuous: the root's sampled actions
    root_widened: np.ndarray | None = None    # [C] continuous: True for samples of the widened policy
    action_names: list[str] | None = field(default=None)

    @property
    def num_simulations(self) -> int:
        return len(self.paths)

    def q(self, simulation: int) -> np.ndarray:
        """[n] Q of the edge into each node after `simulation`: reward + gamma * value."""
        return self.reward + self.discount * self.values[simulation]


class Tree:
    """Array storage and node statistics for B search trees (see the module docstring)."""

    def __init__(self, batch: int, num_nodes: int, num_slots: int, discount: float,
                 search: SearchConfig, action_dim: int | None = None):
        shape = (batch, num_nodes)
        self.batch, self.num_nodes, self.num_slots = batch, num_nodes, num_slots
        self.discount, self.cfg = discount, search
        self.parent = np.full(shape, -1, np.int64)
        self.slot = np.full(shape, -1, np.int64)
        self.depth = np.zeros(shape, np.int64)
        self.visits = np.zeros(shape, np.int64)
        self.value_sum = np.zeros(shape)
        self.reward = np.zeros(shape)
        self.prefix = np.zeros(shape)
        self.network_value = np.zeros(shape)
        self.children = np.full((*shape, num_slots), -1, np.int64)
        self.child_visits = np.zeros((*shape, num_slots), np.int64)
        self.logits = np.zeros((*shape, num_slots))
        self.prior = np.zeros((*shape, num_slots))
        self.valid = np.zeros((*shape, num_slots), bool)
        self.actions = (np.zeros((*shape, num_slots, action_dim), np.float32)
                        if action_dim is not None else None)
        # below a continuous root only `interior_children` slots exist: score just those
        self.interior_width = num_slots if action_dim is None else search.interior_children
        # ezv2 q-transform: min and max of the Q of every edge on every simulated path
        self.q_min = np.full(batch, np.inf)
        self.q_max = np.full(batch, -np.inf)

    # ---------------------------------------------------------------- statistics

    def value(self, b: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Mean backed-up value of nodes [n] (0 for unvisited ones)."""
        visits = self.visits[b, nodes]
        return np.where(visits > 0, self.value_sum[b, nodes] / np.maximum(visits, 1), 0.0)

    def set_prior(self, node: int) -> None:
        """Compute the prior of `node` in every tree from its logits, once its children exist."""
        width = self.num_slots if node == 0 else self.interior_width
        self.prior[:, node, :width] = gumbel.softmax(self.logits[:, node, :width],
                                                     self.valid[:, node, :width])

    def child_q(self, b: np.ndarray, nodes: np.ndarray, width: int | None = None):
        """For nodes [n]: (q, child_visits, valid, logits, prior), each [n, width] (default: all
        C slots); q = r + gamma v(child)."""
        children = self.children[b, nodes, :width]
        child_visits = self.child_visits[b, nodes, :width]
        visited = child_visits > 0
        safe, bb = np.where(visited, children, 0), b[:, None]
        child_value = self.value_sum[bb, safe] / np.maximum(child_visits, 1)
        q = np.where(visited, self.reward[bb, safe] + self.discount * child_value, 0.0)
        return (q, child_visits, self.valid[b, nodes, :width], self.logits[b, nodes, :width],
                self.prior[b, nodes, :width])

    def scores(self, b: np.ndarray, nodes: np.ndarray, width: int | None = None):
        """The q-transform at nodes [n] (Part A §3): (q_tilde, sigma, pi_prime, child_visits, valid),
        each [n, width]; `width` limits it to the first slots (`interior_width` below the root)."""
        q, child_visits, valid, logits, prior = self.child_q(b, nodes, width)
        if self.cfg.q_transform == "ezv2":
            v_mix = gumbel.mixed_value(self.value(b, nodes), self.visits[b, nodes], prior, q,
                                       child_visits, valid)
            q_tilde = gumbel.completed_q(q, child_visits, v_mix)
            q_hat = gumbel.normalize_q(q_tilde, valid, self.q_min[b], self.q_max[b],
                                       self.cfg.value_minmax_delta)
        else:  # gumbel_muzero: raw network value, sum of child visits, per-node min-max
            v_mix = gumbel.mixed_value(self.network_value[b, nodes], child_visits.sum(-1), prior,
                                       q, child_visits, valid)
            q_tilde = gumbel.completed_q(q, child_visits, v_mix)
            q_hat = gumbel.normalize_q(q_tilde, valid, None, None, self.cfg.value_minmax_delta)
        sigma = gumbel.sigma_transform(q_hat, child_visits, valid, self.cfg.c_visit, self.cfg.c_scale)
        return q_tilde, sigma, gumbel.improved_policy(logits, sigma, valid), child_visits, valid

    # ---------------------------------------------------------------- backup

    def backup(self, path: list[tuple[np.ndarray, np.ndarray]], leaf: int,
               leaf_value: np.ndarray) -> None:
        """Back the leaf values [B] up to every root (Part B §3.5 step 4).

        `path[k] = (roots, nodes)`: the node at depth k of the simulated path of
        each listed root (path[0] lists every root with node 0). The new leaf
        gets its value; then, walking up, each node gets the discounted return
        g <- reward(child) + gamma g of the path below it added to its value sum
        and one more visit, and every such g (the Q of an edge) widens the tree's
        min-max range.
        """
        b = np.arange(self.batch)
        g = leaf_value.astype(np.float64)
        self.value_sum[b, leaf] += g
        self.visits[b, leaf] += 1
        child = np.full(self.batch, leaf)
        for roots, nodes in reversed(path):
            below = child[roots]
            g[roots] = q = self.reward[roots, below] + self.discount * g[roots]
            self.q_min[roots] = np.minimum(self.q_min[roots], q)
            self.q_max[roots] = np.maximum(self.q_max[roots], q)
            self.value_sum[roots, nodes] += q
            self.visits[roots, nodes] += 1
            self.child_visits[roots, nodes, self.slot[roots, below]] += 1
            child[roots] = nodes

    # ---------------------------------------------------------------- export

    def export(self, b: int, snapshots: list[tuple[np.ndarray, np.ndarray]], paths: list[list[int]],
               gumbel_noise: np.ndarray, candidates: list[tuple[int, list[int]]],
               chosen_slot: int, improved: np.ndarray, completed: np.ndarray) -> SearchTrace:
        """The SearchTrace of root b from the per-simulation snapshots the search recorded."""
        n = self.num_nodes
        prior = np.zeros(n)
        for i in range(1, n):
            p = self.parent[b, i]
            pri = gumbel.softmax(self.logits[b, p][None], self.valid[b, p][None])[0]
            prior[i] = pri[self.slot[b, i]]
        visits = np.stack([v for v, _ in snapshots])
        sums = np.stack([s for _, s in snapshots])
        values = np.where(visits > 0, sums / np.maximum(visits, 1), np.nan)
        action_vectors = root_actions = None
        if self.actions is not None:
            action_vectors = np.zeros((n, self.actions.shape[-1]), np.float32)
            for i in range(1, n):
                action_vectors[i] = self.actions[b, self.parent[b, i], self.slot[b, i]]
            root_actions = self.actions[b, 0][self.valid[b, 0]].copy()
        valid = self.valid[b, 0]
        return SearchTrace(
            parent=self.parent[b].copy(), slot=self.slot[b].copy(), depth=self.depth[b].copy(),
            prior=prior, reward=self.reward[b].copy(), network_value=self.network_value[b].copy(),
            visits=visits, values=values, paths=paths,
            root_prior=gumbel.softmax(self.logits[b, 0][None], valid[None])[0][valid],
            root_gumbel=gumbel_noise[valid].copy(), root_completed_q=completed[valid].copy(),
            improved_policy=improved[valid].copy(), candidates=candidates, chosen_slot=chosen_slot,
            discount=self.discount, action_vectors=action_vectors, root_actions=root_actions)
