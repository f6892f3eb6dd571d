"""The tree drawings on small fixed traces."""

import numpy as np
import pytest

from ezv2_lite.config import override
from ezv2_lite.model.toy import BanditModel
from ezv2_lite.presets import preset
from ezv2_lite.search import search
from ezv2_lite.search.tree import SearchTrace
from viz.tree import (
    describe_simulation,
    fit_svg,
    root_policy_figure,
    root_visits,
    tree_dot,
    tree_graph,
    tree_stepper,
)


def three_node_trace():
    """Root with two children: sim 1 expands action 0 (reward 1, value 0.5), sim 2 action 1."""
    nan = np.nan
    return SearchTrace(
        parent=np.array([-1, 0, 0]),
        slot=np.array([-1, 0, 1]),
        depth=np.array([0, 1, 1]),
        prior=np.array([0.0, 0.25, 0.75]),
        reward=np.array([0.0, 1.0, 0.0]),
        network_value=np.array([0.2, 0.5, 0.4]),
        visits=np.array([[1, 0, 0], [2, 1, 0], [3, 1, 1]]),
        values=np.array([[0.2, nan, nan], [0.85, 0.5, nan], [0.7, 0.5, 0.4]]),
        paths=[[0, 1], [0, 2]],
        root_prior=np.array([0.25, 0.75]),
        root_gumbel=np.zeros(2),
        root_completed_q=np.array([1.5, 0.4]),
        improved_policy=np.array([0.9, 0.1]),
        candidates=[(0, [1, 0]), (2, [0])],
        chosen_slot=0,
        discount=1.0,
    )


def test_dot_text_of_a_three_node_tree():
    lines = [line.strip() for line in tree_dot(three_node_trace()).splitlines()]
    assert r'n0 [label="root\nN 3\nV 0.700" color="#e8710a" penwidth=2]' in lines  # on every path
    assert r'n1 [label="N 1\nV 0.500\nQ 1.500" color=black fillcolor="#d2e3fc" penwidth=1]' in lines
    assert (
        r'n2 [label="N 1\nV 0.400\nQ 0.400" color="#e8710a" fillcolor="#e8eaed" penwidth=2]'
        in lines
    )
    # The chosen action's edge is green; the latest simulation's path is orange.
    assert (
        r'n0 -> n1 [label="a=0\np 0.25\nr 1.00" color="#188038" fontcolor="#188038" penwidth=2.5]'
        in lines
    )
    assert (
        r'n0 -> n2 [label="a=1\np 0.75" color="#e8710a" fontcolor="#e8710a" penwidth=2.5]' in lines
    )
    assert sum("->" in line for line in lines) == 2


def test_earlier_simulations_show_the_tree_as_it_was():
    dot = tree_dot(three_node_trace(), simulation=1)
    assert "n2" not in dot and "n0 -> n1" in dot and r"root\nN 2\nV 0.850" in dot
    # both root children are still candidates after 1 simulation, none is chosen yet
    assert "#188038" not in dot
    assert tree_dot(three_node_trace(), simulation=0).count("->") == 0
    with pytest.raises(ValueError, match="simulation must be in"):
        tree_dot(three_node_trace(), simulation=3)


def test_description_of_a_simulation():
    trace = three_node_trace()
    assert describe_simulation(trace, 2) == (
        "simulation 2: root → a=1; candidates [0]; chosen root action: a=0 (slot 0)"
    )
    assert root_visits(trace).tolist() == [1, 1]
    trace.action_names = ["push left", "push right"]  # the environment's names, where it has them
    assert describe_simulation(trace, 2) == (
        "simulation 2: root → push right; candidates [0]; chosen root action: push left (slot 0)"
    )
    assert r'label="push left\np 0.25' in tree_dot(trace)


def test_stepper_redraws_when_the_slider_moves():
    widget = tree_stepper(three_node_trace())
    (slider, fit, _every), caption, drawing = widget.children[0].children, *widget.children[1:]
    assert slider.max == 2 and slider.value == 2
    full = drawing.value
    assert full.lstrip().startswith("<?xml") or "<svg" in full
    slider.value = 1
    assert drawing.value != full and "simulation 1" in caption.value
    assert drawing.value.count('<g id="node') == 2
    assert 'width="100%"' in drawing.value  # fitted to the width by default
    fit.value = False
    assert 'width="100%"' not in drawing.value and 'pt"' in drawing.value  # its natural size


def test_a_fitted_tree_scales_to_the_width_and_keeps_its_proportions():
    svg = tree_graph(three_node_trace()).pipe(format="svg").decode()
    natural_width = svg.split('<svg width="')[1].split("pt")[0]
    fitted = fit_svg(svg, max_height_px=300)
    tag = fitted[fitted.index("<svg") :].split(">")[0]
    assert 'width="100%"' in tag and "height=" not in tag.replace("max-height", "")
    assert f"max-width: {natural_width}pt" in tag  # never above its natural size
    assert "max-height: 300px" in tag and "viewBox=" in tag  # the viewBox keeps the proportions
    # nothing else
    assert fitted.replace(tag, "") == svg.replace(svg[svg.index("<svg") :].split(">")[0], "")


def test_a_real_search_trace_draws_every_node():
    model = BanditModel(rewards=[0.1, 0.9, 0.5, 0.2])
    cfg = override(preset("cartpole"), search=dict(num_simulations=6, num_top_actions=4))
    trace = search(
        model, np.zeros((1, 1), np.float32), cfg, "act", np.random.default_rng(0), trace_root=0
    ).trace
    dot = tree_dot(trace)
    assert dot.count("->") == 6
    fig = root_policy_figure(trace)
    assert [bar.name.split()[0] for bar in fig.data] == ["prior", "improved", "visit"]
    np.testing.assert_allclose(fig.data[0].y, np.full(4, 0.25))
    assert abs(sum(fig.data[2].y) - 1) < 1e-9


def test_sampled_actions_with_equal_values_stay_distinct_bars():
    """Two continuous samples that both saturate at +1.00 are two bar groups, not one stacked bar."""
    trace = three_node_trace()
    trace.root_actions = np.array([[1.0], [1.0]], np.float32)
    fig = root_policy_figure(trace)
    assert list(fig.data[0].x) == [0, 1]  # one category per root slot
    np.testing.assert_allclose(fig.data[0].y, [0.25, 0.75])
    assert list(fig.layout.xaxis.ticktext) == ["0: +1.00", "1: +1.00"]
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text


def test_a_root_with_many_children_shows_the_most_visited_and_folds_the_rest():
    """A DMC-like root: 16 sampled actions, 32 simulations. The drawing keeps the 6 most visited
    root children, the chosen one and the latest path, with their subtrees; the others fold into
    one node that counts them and their visits. `root_children=None` draws them all."""
    model = BanditModel(action_dim=1, reward_fn=lambda a: -((a - 0.3) ** 2).sum(-1), sigma=0.5)
    cfg = override(preset("dmc_state"), search=dict(num_simulations=32), optim=dict(discount=0.9))
    trace = search(
        model, np.zeros((1, 1), np.float32), cfg, "act", np.random.default_rng(0), trace_root=0
    ).trace
    children = [n for n in range(1, trace.num_simulations + 1) if trace.parent[n] == 0]
    assert len(children) == 16
    everything = tree_dot(trace, root_children=None)
    assert everything.count("n0 -> n") == 16 and "more children" not in everything
    folded = tree_dot(trace)
    drawn = [n for n in children if f"n0 -> n{n} " in folded]
    chosen = next(n for n in children if trace.slot[n] == trace.chosen_slot)
    visits = trace.visits[-1]
    most = sorted(children, key=lambda n: -visits[n])[:6]
    assert chosen in drawn and set(drawn) >= {n for n in most if visits[n] > min(visits[most])}
    assert 6 <= len(drawn) <= 8
    hidden = [n for n in children if n not in drawn]
    assert f"{len(hidden)} more children\\nN {sum(int(visits[n]) for n in hidden)} in all" in folded
    assert "n0 -> more" in folded
    import re

    nodes = {int(n) for n in re.findall(r"\bn(\d+) \[label", folded)}
    below = {n for n in range(1, trace.num_simulations + 1) if trace.parent[n] in hidden}
    assert nodes and not nodes & (set(hidden) | below)  # folded, with their subtrees
    assert {n for n in range(1, trace.num_simulations + 1) if trace.parent[n] in drawn} <= nodes


def test_a_fitted_tree_is_never_scaled_below_legible_labels():
    """A tree too wide or too deep for its box is scaled no further than SMALLEST_SCALE, where the
    smallest label graphviz draws (pt: 4/3 px) is still 9 px high; beyond it the box scrolls."""
    from viz.tree import SMALLEST_SCALE

    graph = tree_graph(three_node_trace())
    smallest_pt = min(float(graph.node_attr["fontsize"]), float(graph.edge_attr["fontsize"]))
    assert smallest_pt * 4 / 3 * SMALLEST_SCALE >= 9
    svg = '<svg width="2000pt" height="1000pt" viewBox="0 0 2000 1000"><g/></svg>'
    tag = fit_svg(svg, max_height_px=300).split(">")[0]
    styles = dict(part.split(": ") for part in tag.split('style="')[1].rstrip('"').split("; "))
    # scrolls sideways
    assert float(styles["min-width"].removesuffix("pt")) >= 2000 * SMALLEST_SCALE - 0.5
    # and down
    assert float(styles["max-height"].removesuffix("px")) >= 1000 * 4 / 3 * SMALLEST_SCALE - 0.5
    assert styles["max-width"] == "2000pt"  # and is never drawn above its natural size
