"""The same Gumbel search for a single root, on plain Python numbers (issue #9).

`search.py` searches B roots at once on arrays: the right shape for
reanalysis (1,536 roots per learner step) and for acting in many
environments. An agent acting in *one* environment searches one root, and
there the arrays cost more than the arithmetic: each simulation makes about a
hundred NumPy calls of about 1 µs each on rows of 2 to 16 numbers. This file
is the same algorithm, step for step, on a tree of `Node` objects holding
Python floats and lists, so that a simulation costs little more than its one
recurrent inference.

It is used when `search.scalar_tree` is on, the search has one root and no
trace is asked for. `search.py` stays the reference: tests require both to
choose the same actions and to return the same policy and values, and the
random numbers are drawn in the same order, so a seed gives the same run
either way.

Two differences in the arithmetic, both below float32 rounding:
- the network's outputs are decoded, and the children's actions sampled, in
  NumPy from one copy of the output row (`EZModel.scalar_value_reward_row`)
  instead of with a dozen small torch operations;
- with `search.fused_inference` on the CPU the recurrent inference itself runs
  in NumPy on vectors (`FusedRecurrent.one_row`).

Shapes: the root's model output has batch 1; a node's `logits`, `prior`,
`children` and `child_visits` have one entry per child slot (|A| discrete, K
at a continuous root, `interior_children` below it); `actions` [slots, A]
float32 holds a continuous node's child actions; `latent` is a [1, d] tensor,
or a [d] NumPy vector with `one_row`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..config import Config
from ..model.fused import FusedRecurrent
from ..model.networks import EZModel, ModelOutput
from ..model.policy import squash_params
from .gumbel import halving_schedule, visited_only
from .sampling import sample_children, sample_root_actions


class Node:
    """One node of the tree: the statistics of search.py's `Tree`, for a single tree."""

    __slots__ = ("parent", "slot", "depth", "reward", "prefix", "network_value", "visits",
                 "value_sum", "logits", "prior", "children", "child_visits", "actions", "latent",
                 "hidden")

    def __init__(self, parent: Node | None, slot: int, latent: torch.Tensor | np.ndarray,
                 hidden=None):
        self.parent, self.slot = parent, slot
        self.depth = 0 if parent is None else parent.depth + 1
        self.reward = self.prefix = self.network_value = self.value_sum = 0.0
        self.visits = 0
        self.latent, self.hidden = latent, hidden      # LSTM (h, c) or None
        self.logits: list[float] = []
        self.prior: list[float] = []
        self.children: list[Node | None] = []
        self.child_visits: list[int] = []
        self.actions: np.ndarray | None = None

    def set_children(self, logits: list[float], actions: np.ndarray | None = None) -> None:
        """Open the node's child slots with their prior logits (and continuous action vectors)."""
        self.logits, self.prior, self.actions = logits, softmax(logits), actions
        self.children = [None] * len(logits)
        self.child_visits = [0] * len(logits)


def softmax(x: list[float]) -> list[float]:
    """`gumbel.softmax` for one node's list of numbers (every slot of a node is valid)."""
    top = max(x)
    e = [math.exp(v - top) for v in x]
    total = sum(e)
    return [v / total for v in e]


class ScalarSearch:
    """One search from one root. `run()` returns the fields of a `SearchResult` (batch 1)."""

    def __init__(self, model: EZModel, root: ModelOutput, config: Config, mode: str,
                 rng: np.random.Generator, recurrent, num_simulations: int, m: int):
        self.model, self.cfg, self.rng, self.recurrent = model, config.search, rng, recurrent
        self.discount = config.agent_discount
        self.num_simulations, self.m, self.mode = num_simulations, m, mode
        self.discrete = model.spec.is_discrete
        self.q_min, self.q_max = math.inf, -math.inf   # the ezv2 q-transform's min-max range
        hidden = model.initial_hidden(1, root.latent.device) if model.value_prefix else None
        self.numpy_rows = isinstance(recurrent, FusedRecurrent) and root.latent.device.type == "cpu"
        self.root = Node(None, -1, root.latent[0].numpy() if self.numpy_rows else root.latent, hidden)
        self.root.network_value = self.root.value_sum = float(model.scalar_value(root.value_logits)[0])
        self.root.visits = 1
        self.sampled = None
        if self.discrete:
            self.root.set_children(root.policy[0].double().tolist())
            self.slots = len(self.root.logits)
        else:
            mu, sigma = squash_params(root.policy)
            self.sampled = sample_root_actions(mu, sigma, self.cfg, mode, rng).cpu().numpy()
            k = self.sampled.shape[1]                                            # [1, K, A]
            self.root.set_children([0.0] * k, self.sampled[0])
            self.slots = max(k, self.cfg.interior_children)  # search.py draws noise for these

    # ------------------------------------------------------------ the q-transform (Part A §3)

    def scores(self, node: Node) -> tuple[list[float], list[float]]:
        """(sigma(q_hat), pi_prime) over the node's child slots, as `Tree.scores` computes them."""
        cfg, visits = self.cfg, node.child_visits
        q = [c.reward + self.discount * (c.value_sum / n) if n > 0 else 0.0
             for c, n in zip(node.children, visits)]
        if cfg.q_transform == "ezv2":
            value, count = node.value_sum / node.visits, node.visits
        else:  # gumbel_muzero: the network's value and the sum of the child visits
            value, count = node.network_value, sum(visits)
        mass = sum(p for p, n in zip(node.prior, visits) if n > 0)
        if mass < 1e-6:
            v_mix = value
        else:
            weighted = sum(p * x for p, x, n in zip(node.prior, q, visits) if n > 0) / mass
            v_mix = (value + count * weighted) / (1 + count)
        q_tilde = [x if n > 0 else v_mix for x, n in zip(q, visits)]
        low, high = (self.q_min, self.q_max) if cfg.q_transform == "ezv2" else (min(q_tilde), max(q_tilde))
        if high >= low:
            scale = max(high - low, cfg.value_minmax_delta)
            q_hat = [min(max((x - low) / scale, 0.0), 1.0) for x in q_tilde]
        else:  # no backup yet
            q_hat = [0.0] * len(q_tilde)
        factor = (cfg.c_visit + max(visits)) * cfg.c_scale
        sigma = [factor * x for x in q_hat]
        return sigma, softmax([lg + s for lg, s in zip(node.logits, sigma)])

    # ------------------------------------------------------------ one simulation

    def select(self, candidates: list[int]) -> tuple[Node, int]:
        """The root candidate with the fewest visits, then argmax pi' - N(a) / (1 + N) below."""
        node = self.root
        slot = min(candidates, key=lambda a: node.child_visits[a])
        while node.children[slot] is not None:
            node = node.children[slot]
            _, pi_prime = self.scores(node)
            scale = 1.0 + node.visits
            score = [p - n / scale for p, n in zip(pi_prime, node.child_visits)]
            slot = score.index(max(score))
        return node, slot

    def infer(self, parent: Node, slot: int):
        """The model's step from `parent` along `slot`: (latent, LSTM state or None, reward
        logits, value logits, policy), the last three as NumPy rows."""
        action = slot if self.discrete else parent.actions[slot]
        if self.numpy_rows:  # fused state model on the CPU: all in NumPy
            latent, *outputs = self.recurrent.one_row(parent.latent, action)
            return latent, None, *outputs
        device = parent.latent.device
        action = torch.as_tensor(action, device=device)[None]
        out = self.recurrent(parent.latent, action, *([parent.hidden] if parent.hidden else []))
        outputs = (out.reward_logits, out.value_logits, out.policy)
        return out.latent, out.hidden, *(x[0].cpu().numpy() for x in outputs)

    def expand(self, parent: Node, slot: int) -> Node:
        """Create the child of `parent` in `slot` with one recurrent inference."""
        model = self.model
        latent, hidden, reward_logits, value_logits, policy = self.infer(parent, slot)
        value, prediction = model.scalar_value_reward_row(value_logits, reward_logits)
        if model.value_prefix:
            parent_reset = parent.depth % model.lstm_horizon == 0
            reward = prediction if parent_reset else prediction - parent.prefix
            if (parent.depth + 1) % model.lstm_horizon == 0:
                hidden = tuple(torch.zeros_like(h) for h in hidden)
        else:
            reward = prediction
        child = Node(parent, slot, latent, hidden)
        child.reward, child.prefix, child.network_value = reward, prediction, value
        if self.discrete:
            child.set_children(policy.tolist())
        else:
            mu, sigma = squash_params(policy)
            n = self.cfg.interior_children
            child.set_children([0.0] * n, sample_children(mu[None], sigma[None], n, self.rng)[0])
        parent.children[slot] = child
        return child

    def backup(self, leaf: Node) -> None:
        """Add the leaf value, then each edge's discounted return, to every node on the path."""
        g = leaf.network_value
        leaf.value_sum += g
        leaf.visits += 1
        child, node = leaf, leaf.parent
        while node is not None:
            g = child.reward + self.discount * g
            self.q_min, self.q_max = min(self.q_min, g), max(self.q_max, g)
            node.value_sum += g
            node.visits += 1
            node.child_visits[child.slot] += 1
            child, node = node, node.parent

    # ------------------------------------------------------------ the search

    def run(self) -> dict:
        root, k = self.root, len(self.root.logits)
        noisy = self.mode != "evaluate" and (self.discrete or self.cfg.continuous_root_gumbel)
        g = self.rng.gumbel(size=(1, self.slots))[0, :k].tolist() if noisy else [0.0] * k
        start = [x + lg for x, lg in zip(g, root.logits)]
        candidates = sorted(range(k), key=lambda a: -start[a])[:min(self.m, k)]
        schedule = dict(halving_schedule(self.num_simulations, len(candidates)))
        for sim in range(1, self.num_simulations + 1):
            parent, slot = self.select(candidates)
            self.backup(self.expand(parent, slot))
            if sim in schedule:   # sequential halving by g + logits + sigma(q_hat)
                sigma, _ = self.scores(root)
                score = [x + lg + s for x, lg, s in zip(g, root.logits, sigma)]
                candidates = sorted(candidates, key=lambda a: -score[a])[:schedule[sim]]
        _, improved = self.scores(root)
        if not self.discrete:  # the target covers the sampled actions the search evaluated
            improved = visited_only(np.array([improved]), np.array([root.child_visits]))[0]
        chosen = candidates[0]
        action = np.array([chosen]) if self.discrete else self.sampled[:, chosen]
        return dict(action=action, action_slot=np.array([chosen]),
                    improved_policy=np.array([improved]),
                    root_value=np.array([root.value_sum / root.visits]),
                    network_value=np.array([root.network_value]),
                    visit_counts=np.array([root.child_visits]),
                    sampled_actions=self.sampled)
