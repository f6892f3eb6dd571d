"""Draw a search tree as it grew: graphviz graphs and an ipywidgets stepper.

    trace = search(model, obs, config, "act", rng, trace_root=0).trace
    tree_graph(trace)                 # the whole search (a graphviz.Digraph; shows as SVG)
    tree_graph(trace, simulation=5)   # the tree after 5 simulations
    tree_graph(trace, root_children=None)   # every root child (by default the 6 most visited)
    tree_stepper(trace)               # a slider over simulations that redraws the tree
    fit_svg(svg)                      # an SVG drawing scaled to the width it is shown in
                                      # (never so small that its labels cannot be read)

Nodes show their visit count N, mean value V and the Q of the edge into them
(reward + discount * V). Edges show the action and its prior probability (and
the predicted reward when it is not zero). The path of the latest simulation is
orange; root children still in the sequential-halving race are blue, those
halved away grey; after the last simulation the chosen action's edge is green.
Actions carry the environment's names where the trace has them
(`trace.action_names`, e.g. CartPole's push left / push right).
"""

from __future__ import annotations

import re

import graphviz
import numpy as np

from ezv2_lite.search.tree import SearchTrace

PATH, CHOSEN, ALIVE, DROPPED = "#e8710a", "#188038", "#d2e3fc", "#e8eaed"


def action_vector_text(vector) -> str:
    """A sampled action as text: its first two coordinates, then "…" if it has more."""
    return ", ".join(f"{x:+.2f}" for x in vector[:2]) + (", …" if len(vector) > 2 else "")


def _action_label(trace: SearchTrace, node: int) -> str:
    if trace.action_vectors is not None:
        return f"[{action_vector_text(trace.action_vectors[node])}]"
    slot = int(trace.slot[node])
    return trace.action_names[slot] if trace.action_names else f"a={slot}"


def candidates_at(trace: SearchTrace, simulation: int) -> list[int]:
    """Root slots still in the race after `simulation` simulations."""
    alive = trace.candidates[0][1]
    for after, slots in trace.candidates:
        if after <= simulation:
            alive = slots
    return alive


ROOT_CHILDREN_SHOWN = 6
"""How many root children a drawing shows by default: a root with 16 sampled actions, fitted to
a laptop's width, has labels too small to read. The others fold into one "more" node."""


def shown_nodes(
    trace: SearchTrace, simulation: int, root_children: int | None
) -> tuple[set[int], list[int]]:
    """(the nodes to draw, the folded root children) after `simulation` simulations: at most
    `root_children` of the root's children (None: all), the most visited first (then the highest
    Q), always with the latest simulation's path and the chosen child; a folded child's subtree
    is folded with it."""
    nodes = list(range(simulation + 1))
    children = [n for n in nodes[1:] if trace.parent[n] == 0]
    if root_children is None or len(children) <= root_children:
        return set(nodes), []
    visits, q = trace.visits[simulation], np.nan_to_num(trace.q(simulation), nan=-np.inf)
    ranked = sorted(children, key=lambda n: (-visits[n], -q[n], n))
    keep = set(ranked[:root_children])
    keep |= {n for n in (trace.paths[simulation - 1] if simulation else []) if trace.parent[n] == 0}
    if simulation == trace.num_simulations:
        keep |= {n for n in children if trace.slot[n] == trace.chosen_slot}
    shown = {0}
    for n in nodes[1:]:  # (a parent is created before its children)
        if (trace.parent[n] == 0 and n in keep) or (
            trace.parent[n] > 0 and trace.parent[n] in shown
        ):
            shown.add(n)
    return shown, [n for n in children if n not in keep]


def tree_graph(
    trace: SearchTrace,
    simulation: int | None = None,
    root_children: int | None = ROOT_CHILDREN_SHOWN,
) -> graphviz.Digraph:
    """The tree after `simulation` simulations (default: all) as a graphviz graph, with at most
    `root_children` of the root's children drawn (`shown_nodes`; None: all of them)."""
    s = trace.num_simulations if simulation is None else int(simulation)
    if not 0 <= s <= trace.num_simulations:
        raise ValueError(f"simulation must be in [0, {trace.num_simulations}] (got {simulation})")
    visits, values, q = trace.visits[s], trace.values[s], trace.q(s)
    path = set(trace.paths[s - 1]) if s > 0 else set()
    shown, folded = shown_nodes(trace, s, root_children)
    alive = set(candidates_at(trace, s))
    final = s == trace.num_simulations
    graph = graphviz.Digraph(
        graph_attr={"rankdir": "TB", "nodesep": "0.15", "ranksep": "0.35"},
        node_attr={
            "shape": "box",
            "style": "rounded,filled",
            "fontsize": "10",
            "fontname": "Helvetica",
            "fillcolor": "white",
        },
        edge_attr={"fontsize": "9", "fontname": "Helvetica"},
    )
    graph.node(
        "n0",
        f"root\\nN {visits[0]}\\nV {values[0]:.3f}",
        color=PATH if 0 in path else "black",
        penwidth="2" if 0 in path else "1",
    )
    for node in sorted(shown - {0}):
        parent = int(trace.parent[node])
        on_path = node in path
        fill = "white"
        if parent == 0:
            fill = ALIVE if int(trace.slot[node]) in alive else DROPPED
        label = f"N {visits[node]}\\nV {values[node]:.3f}\\nQ {q[node]:.3f}"
        graph.node(
            f"n{node}",
            label,
            fillcolor=fill,
            color=PATH if on_path else "black",
            penwidth="2" if on_path else "1",
        )
        edge = f"{_action_label(trace, node)}\\np {trace.prior[node]:.2f}"
        if abs(trace.reward[node]) > 5e-4:
            edge += f"\\nr {trace.reward[node]:.2f}"
        chosen = final and parent == 0 and int(trace.slot[node]) == trace.chosen_slot
        color = CHOSEN if chosen else PATH if on_path else "black"
        graph.edge(
            f"n{parent}",
            f"n{node}",
            edge,
            color=color,
            fontcolor=color,
            penwidth="2.5" if chosen or on_path else "1",
        )
    if folded:
        hidden = sum(int(visits[n]) for n in folded)
        graph.node(
            "more",
            f"{len(folded)} more children\\nN {hidden} in all",
            style="rounded,dashed",
            color="#5f6368",
            fontcolor="#5f6368",
        )
        graph.edge("n0", "more", style="dashed", color="#5f6368")
    return graph


def tree_dot(
    trace: SearchTrace,
    simulation: int | None = None,
    root_children: int | None = ROOT_CHILDREN_SHOWN,
) -> str:
    """The DOT text of `tree_graph` (what tests and other tools read)."""
    return tree_graph(trace, simulation, root_children).source


SMALLEST_SCALE = 0.76
"""The least a fitted drawing is scaled: its labels are 10 pt (nodes) and 9 pt (edges), 13.3 and
12 px, and at 0.76 of that (10.1 and 9.1 px) they can still be read; a wider or deeper tree
scrolls instead."""


def fit_svg(svg: str, max_height_px: int = 480) -> str:
    """Scale an SVG drawing (graphviz's, sized in pt) to the width it is shown in, never above its
    natural size, and at most `max_height_px` tall: a tree is seen whole, root and chosen action
    included, in a narrow window. Never below `SMALLEST_SCALE` of its natural size, where its
    labels would be too small to read: there the box that shows it scrolls."""

    def scaled(match: re.Match) -> str:
        width = re.search(r'\swidth="([0-9.]+)pt"', match.group(0))
        height = re.search(r'\sheight="([0-9.]+)pt"', match.group(0))
        limits = ""
        if width:
            limits += f"max-width: {width.group(1)}pt; min-width: {SMALLEST_SCALE * float(width.group(1)):.0f}pt; "
        tallest = (
            max(max_height_px, SMALLEST_SCALE * float(height.group(1)) * 4 / 3)
            if height
            else max_height_px
        )
        tag = re.sub(r'\s(width|height)="[^"]*"', "", match.group(0))
        return tag.replace(
            "<svg",
            f'<svg width="100%" style="{limits}height: auto; '
            f'max-height: {tallest:.0f}px; display: block; margin: 0 auto"',
            1,
        )

    return re.sub(r"<svg\b[^>]*>", scaled, svg, count=1)


def describe_simulation(trace: SearchTrace, simulation: int) -> str:
    """One line about simulation s: the path it took and the candidates left."""
    if simulation == 0:
        return f"before the first simulation: root candidates {trace.candidates[0][1]}"
    path = " → ".join(
        "root" if n == 0 else _action_label(trace, n) for n in trace.paths[simulation - 1]
    )
    alive = candidates_at(trace, simulation)
    text = f"simulation {simulation}: {path}; candidates {alive}"
    if simulation == trace.num_simulations:
        chosen = root_action_names(trace)[trace.chosen_slot]
        text += f"; chosen root action: {chosen} (slot {trace.chosen_slot})"
    return text


def tree_stepper(trace: SearchTrace):
    """An ipywidgets slider over simulations that redraws the tree as it grew; the tree is fitted
    to the width (untick "fit" to see it at its natural size, scrolling), with the most visited
    root children (tick "all children" to unfold the rest)."""
    import ipywidgets as widgets

    slider = widgets.IntSlider(
        value=trace.num_simulations,
        min=0,
        max=trace.num_simulations,
        description="simulation",
        continuous_update=False,
        layout=widgets.Layout(width="60%", min_width="260px"),
    )
    fit = widgets.Checkbox(
        value=True, description="fit to width", indent=False, layout=widgets.Layout(width="auto")
    )
    every = widgets.Checkbox(
        value=False, description="all children", indent=False, layout=widgets.Layout(width="auto")
    )
    caption = widgets.HTML(layout=widgets.Layout(width="100%"))
    drawing = widgets.HTML(layout=widgets.Layout(width="100%", overflow="auto", max_height="560px"))

    def redraw(change=None) -> None:
        s = slider.value
        caption.value = f"<code style='white-space: normal'>{describe_simulation(trace, s)}</code>"
        shown = None if every.value else ROOT_CHILDREN_SHOWN
        svg = tree_graph(trace, s, root_children=shown).pipe(format="svg").decode()
        drawing.value = fit_svg(svg) if fit.value else svg

    for control in (slider, fit, every):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox(
        [widgets.HBox([slider, fit, every]), caption, drawing], layout=widgets.Layout(width="100%")
    )


def root_visits(trace: SearchTrace, simulation: int | None = None) -> np.ndarray:
    """[C] visit count of each root child slot after `simulation` simulations (default: all)."""
    s = trace.num_simulations if simulation is None else simulation
    counts = np.zeros(len(trace.root_prior), np.int64)
    for node in np.flatnonzero(trace.parent == 0):
        counts[trace.slot[node]] = trace.visits[s][node]
    return counts


def root_action_names(trace: SearchTrace) -> list[str]:
    """A label per root action slot: the environment's name, the sampled action's value, or a=i."""
    if trace.root_actions is not None:
        return [action_vector_text(a) for a in trace.root_actions]
    return (
        list(trace.action_names)
        if trace.action_names
        else [f"a={i}" for i in range(len(trace.root_prior))]
    )


def root_policy_figure(trace: SearchTrace, action_names: list[str] | None = None):
    """A plotly bar chart of the root: prior policy, improved policy and visit share per action.

    One bar group per root slot, in slot order: equal labels (two sampled actions at +1.00) stay
    two groups, each tick reading "slot: label"."""
    import plotly.graph_objects as go

    names = action_names or root_action_names(trace)
    slots = list(range(len(trace.root_prior)))
    visits = root_visits(trace)
    fig = go.Figure(
        [
            go.Bar(name="prior π", x=slots, y=trace.root_prior),
            go.Bar(name="improved π′ = softmax(logits + σ(q̂))", x=slots, y=trace.improved_policy),
            go.Bar(name="visit share", x=slots, y=visits / max(visits.sum(), 1)),
        ]
    )
    ticks = [
        f"{slot}: {name}" if trace.root_actions is not None else name
        for slot, name in zip(slots, names, strict=True)
    ]
    chosen = names[trace.chosen_slot]
    fig.update_layout(
        barmode="group",
        height=400,
        margin=dict(l=50, r=10, t=80, b=40),
        title=f"root policy before and after the search (chosen: {chosen})",
        yaxis_title="probability",
        xaxis_title="root action (slot: value)"
        if trace.root_actions is not None
        else "root action",
        legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0),  # above: clear of the ticks
    )
    fig.update_xaxes(
        tickmode="array", tickvals=slots, ticktext=ticks, tickangle=-45 if len(slots) > 8 else 0
    )
    return fig
