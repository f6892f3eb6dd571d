"""The sampled actions of one continuous search, as plotly figures (paper §4.2).

    actions_figure(trace)
    root_action_check_figure(check)     # an `evaluate.root_action_check`

One marker per sampled root action: circles were sampled from the policy,
diamonds from the widened policy (3x its standard deviation); the colour says
how many sequential-halving rounds the action survived; the chosen action is a
star. 1-D actions are drawn against their improved-policy weight, 2-D actions in
the action plane (marker size = weight), more dimensions on their first two
principal components.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ezv2_lite.evaluate import RootActionCheck
from ezv2_lite.search.tree import SearchTrace

ROUND_COLORS = ["#bdc1c6", "#8ab4f8", "#1a73e8", "#174ea6", "#0b2a5b", "#000000"]


def rounds_survived(trace: SearchTrace) -> np.ndarray:
    """[K] for each root action, how many halvings it survived (0 = dropped at the first)."""
    survived = np.zeros(len(trace.root_prior), np.int64)
    for _, slots in trace.candidates[1:]:
        survived[slots] += 1
    return survived


def project_2d(actions: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """[K, A] -> [K, 2]: the actions themselves for A <= 2, else their first two principal components."""
    if actions.shape[1] <= 2:
        return actions, [f"action[{i}]" for i in range(actions.shape[1])]
    centred = actions - actions.mean(0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:2].T, ["principal component 1", "principal component 2"]


def actions_figure(trace: SearchTrace, title: str = "sampled root actions"):
    """Policy and widened samples, halving survivors, the chosen action and improved-policy weights."""
    if trace.root_actions is None:
        raise ValueError("actions_figure needs a continuous search trace (root_actions is None)")
    actions, weights = trace.root_actions, trace.improved_policy
    widened = trace.root_widened if trace.root_widened is not None else np.zeros(len(actions), bool)
    survived = rounds_survived(trace)
    one_d = actions.shape[1] == 1
    xy, labels = (None, ["action", "improved policy π′"]) if one_d else project_2d(actions)
    fig = go.Figure()
    for is_widened, symbol, name in (
        (False, "circle", "policy samples"),
        (True, "diamond", "widened samples"),
    ):
        idx = np.flatnonzero(widened == is_widened)
        if not len(idx):
            continue
        x = actions[idx, 0] if one_d else xy[idx, 0]
        y = weights[idx] if one_d else xy[idx, 1]
        size = 11 if one_d else 8 + 40 * weights[idx] / max(weights.max(), 1e-9)
        fig.add_scatter(
            x=x,
            y=y,
            mode="markers",
            name=name,
            marker=dict(
                symbol=symbol,
                size=size,
                color=[ROUND_COLORS[min(r, len(ROUND_COLORS) - 1)] for r in survived[idx]],
                line=dict(width=1, color="black"),
            ),
            customdata=np.stack([survived[idx], weights[idx]], 1),
            hovertemplate="survived %{customdata[0]} halvings<br>π′ %{customdata[1]:.3f}<extra></extra>",
        )
    c = trace.chosen_slot
    fig.add_scatter(
        x=[actions[c, 0] if one_d else xy[c, 0]],
        y=[weights[c] if one_d else xy[c, 1]],
        mode="markers",
        name="chosen",
        marker=dict(symbol="star", size=20, color="#e8710a", line=dict(width=1, color="black")),
    )
    rounds = len(trace.candidates) - 1
    fig.update_layout(
        title=f"{title}<br><sup>colour: halvings survived, 0 to {rounds}</sup>",
        height=420,
        xaxis_title=labels[0],
        yaxis_title=labels[1],
        margin=dict(l=50, r=10, t=50, b=80),
        legend=dict(orientation="h", y=-0.22, yanchor="top", x=0),  # below: keeps the width
    )
    if one_d:
        fig.update_xaxes(range=[-1.05, 1.05])
    return fig


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 of x, ties sharing the mean of their ranks."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation: how alike two orders of the same actions are (1: the same,
    -1: reversed); NaN when either side is constant (an untrained model's equal Q's)."""
    ra, rb = average_ranks(np.asarray(a, float)), average_ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def root_action_check_figure(
    check: RootActionCheck, title: str = "what the search expects, and what happened"
):
    """Each root action's Q as the search completed it (filled: visited; open: v_mix) beside the
    discounted return that taking it gave over `check.horizon` agent steps (+ the value of the
    state reached): 1-D continuous actions against the action, otherwise one column per root
    child. The chosen action is ringed. Where the two rank the actions differently, the model
    (not the search) misleads the choice."""
    one_d = check.actions.ndim == 2 and check.actions.shape[1] == 1
    x = check.actions[:, 0] if one_d else np.arange(len(check.predicted_q))
    order = np.argsort(x)
    fig = go.Figure()
    fig.add_scatter(
        x=x[order],
        y=check.rollout_return[order],
        mode="lines+markers",
        name="return that followed",
        line=dict(color="#188038"),
        marker=dict(size=7),
    )
    fig.add_scatter(
        x=x,
        y=check.predicted_q,
        mode="markers",
        name="search's Q",
        marker=dict(
            size=10,
            color=np.where(check.visited, "#1a73e8", "white"),
            line=dict(width=1.5, color="#1a73e8"),
        ),
        customdata=check.visited,
        hovertemplate="Q %{y:.3f}<br>visited: %{customdata}<extra></extra>",
    )
    c = check.chosen
    fig.add_scatter(
        x=[x[c], x[c]],
        y=[check.predicted_q[c], check.rollout_return[c]],
        mode="markers",
        name="chosen",
        marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(width=2.5, color="#e8710a")),
    )
    rank = rank_correlation(check.predicted_q, check.rollout_return)
    agreement = "n/a (one side is constant)" if np.isnan(rank) else f"{rank:.2f}"
    fig.update_layout(
        title=f"{title}<br><sup>{check.horizon}-step rollouts; rank correlation {agreement}</sup>",
        height=380,
        xaxis_title="action" if one_d else "root child",
        yaxis_title="discounted return",
        margin=dict(l=50, r=10, t=60, b=40),
    )
    if one_d:
        fig.update_xaxes(range=[-1.05, 1.05])
    return fig
