"""Watch an agent play, step by step: the frame, its search there, its values against the truth.

    agent = load_agent("cartpole")
    steps = record_episode(agent.model, agent.config, seed=0)   # evaluate.play, one episode
    episode_video(steps, agent.config)                          # the episode as a video, inline
    episode_player(steps, agent.config.agent_discount)          # a slider over its steps

At each step the player shows what the agent looked at (the environment's frame), the root
of its search there (the prior policy and the improved policy after the search, as bars for
discrete actions, as the sampled actions for continuous ones), the search tree, and over the
whole episode the values it predicted (the value network's v and the search's estimate) against
the discounted return that actually followed, with the current step marked.
"""

from __future__ import annotations

import html
from contextlib import closing
from dataclasses import replace
from itertools import islice

import numpy as np
import plotly.graph_objects as go

from ezv2_lite.config import Config
from ezv2_lite.evaluate import Step, play
from ezv2_lite.model.networks import EZModel
from ezv2_lite.tools.video import captioned_frames, encode, playback_fps

from .actions import actions_figure
from .dashboard import figure_output
from .pixels import png_bytes
from .tree import fit_svg, root_action_names, root_policy_figure, tree_graph

FRAME_WIDTH_PX = 320
ROOT_WIDTH_PX = (
    400  # the root chart's width and the player's least column width (fits outputs >= 400 px wide)
)


def record_episode(
    model: EZModel, config: Config, seed: int, progress: bool = True, max_steps: int | None = None
) -> list[Step]:
    """One evaluation episode with its frames and every step's search (`evaluate.play`), with a
    progress bar of its agent steps that stays in the notebook when the episode has ended.
    `max_steps` keeps only the episode's first agent steps (the course's fast setting); the step
    after them is searched too, and its value network's estimate kept as the last step's
    `value_after`, so that the return that followed can be completed where the episode was cut."""
    from ezv2_lite.progress import finish, progress_bar

    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be at least 1 (got {max_steps})")
    kept = None if max_steps is None else max_steps + 1  # (and the step after, for its value)
    steps = play(model, config, 1, seed, render=True, trace=True)
    cap = kept if kept is not None else config.env.resolved().eval_max_episode_steps
    with (
        closing(steps),
        progress_bar(
            total=cap, desc="playing one episode", unit="agent step", disable=not progress
        ) as bar,
    ):
        recorded = []
        for step in islice(steps, kept):
            recorded.append(step)
            bar.update()
        finish(bar)  # (an episode that ended before the cap is done, not cut short)
    if max_steps is not None and len(recorded) > max_steps:
        after = recorded.pop()
        recorded[-1] = replace(recorded[-1], value_after=after.network_value)
    return recorded


def _check_recorded(steps: list[Step]) -> None:
    if not steps or steps[0].trace is None or steps[0].frame is None:
        raise ValueError(
            "give the steps of one episode from record_episode (played with its frames "
            "and searches)"
        )


def episode_video(steps: list[Step], config: Config, width_px: int = 480):
    """The recorded episode as an inline MP4 player at the task's own speed (the captioned frames
    of `ezv2-lite eval --video`)."""
    from IPython.display import Video

    _check_recorded(steps)
    names = steps[0].trace.action_names
    _, frames = captioned_frames(steps, 1, tuple(names) if names else None)
    return Video(
        data=encode(frames, ".mp4", playback_fps(config)),
        embed=True,
        mimetype="video/mp4",
        width=width_px,
        html_attributes="controls loop",
    )


def discounted_returns(rewards: np.ndarray, discount: float, bootstrap: float = 0.0) -> np.ndarray:
    """[T] G_t = r_t + discount * G_(t+1), with G_T = `bootstrap`: what the values predict, as it
    happened. An episode that ended has G_T = 0; one cut short continues, and without an estimate
    of what followed the cut (`bootstrap`) its last few G_t are too small."""
    returns = np.zeros(len(rewards))
    following = bootstrap
    for t in range(len(rewards) - 1, -1, -1):
        following = rewards[t] + discount * following
        returns[t] = following
    return returns


def values_figure(steps: list[Step], discount: float, current: int | None = None) -> go.Figure:
    """The episode's predicted values against the discounted return that followed each step (of
    raw rewards: an Atari model, trained on rewards clipped to their sign, predicts clipped ones).
    Where the recording cut the episode short, the return after the cut is the value network's
    estimate (the last step's `value_after`), and the legend says so."""
    t = [s.t for s in steps]
    last = steps[-1]
    cut = not last.done and last.value_after is not None
    truth = discounted_returns(
        np.array([s.reward for s in steps]), discount, bootstrap=last.value_after if cut else 0.0
    )
    name = "discounted return that followed"
    if cut:
        name += f" (after step {last.t}: v's estimate)"
    elif not last.done:
        name += " (cut short: too small at the end)"
    fig = go.Figure(
        [
            go.Scatter(x=t, y=truth, name=name, line=dict(color="black")),
            go.Scatter(x=t, y=[s.network_value for s in steps], name="value network v(s)"),
            go.Scatter(x=t, y=[s.root_value for s in steps], name="search's value (SVE)"),
        ]
    )
    if current is not None:
        fig.add_vline(x=current, line=dict(color="#e8710a", width=2))
    fig.update_layout(
        height=300,
        margin=dict(l=50, r=10, t=40, b=40),
        title="values along the episode",
        xaxis_title="agent step",
        yaxis_title=f"value (discount {discount:.3f} per step)",
        legend=dict(orientation="h", y=-0.25, yanchor="top", x=0),
    )
    return fig


def root_figure(step: Step) -> go.Figure:
    """The root of the search at `step`: policy bars (discrete) or the sampled actions (continuous)."""
    if step.trace.root_actions is not None:
        return actions_figure(step.trace, title="sampled root actions")
    chosen = root_action_names(step.trace)[step.trace.chosen_slot]
    # A title that fits half the width, over the legend (three lines there): plotly centres the
    # title in the top margin, and the legend stands on the plot.
    return root_policy_figure(step.trace).update_layout(
        title=f"root policy before and after the search<br><sup>chosen: {chosen}</sup>",
        height=500,
        margin=dict(t=190),
    )


def describe_step(step: Step, so_far: float) -> str:
    """One line: the step, the action the search chose, the reward it earned, the return so far."""
    chosen = (
        root_action_names(step.trace)[step.action_slot]
        if step.trace is not None
        else str(step.action)
    )
    return (
        f"step {step.t}: action {chosen}, reward {step.reward:.2f}, return so far {so_far + step.reward:.1f}"
        + (" (the episode ends here)" if step.done else "")
    )


def episode_player(steps: list[Step], discount: float):
    """An ipywidgets view of a recorded episode (`record_episode`) with a slider (and a play
    button) over its steps; the frame, the root, the tree and the values' marker follow it."""
    import ipywidgets as widgets

    _check_recorded(steps)
    so_far = np.concatenate([[0.0], np.cumsum([s.reward for s in steps])])
    slider = widgets.IntSlider(
        value=0,
        min=0,
        max=len(steps) - 1,
        description="step",
        continuous_update=False,
        layout=widgets.Layout(width="60%", min_width="260px"),
    )
    player = widgets.Play(value=0, min=0, max=len(steps) - 1, interval=400, description="play")
    widgets.jslink((player, "value"), (slider, "value"))
    caption = widgets.HTML(layout=widgets.Layout(width="100%"))
    frame = widgets.Image(
        format="png",
        layout=widgets.Layout(
            width="100%", max_width=f"{FRAME_WIDTH_PX}px", height="auto", object_fit="contain"
        ),
    )
    root = widgets.Output(layout=widgets.Layout(width="100%", min_width="0"))
    tree = widgets.HTML(layout=widgets.Layout(width="100%", overflow="auto", max_height="520px"))
    values = widgets.Output(layout=widgets.Layout(width="100%"))

    def redraw(change=None) -> None:
        step = steps[slider.value]
        text = html.escape(describe_step(step, so_far[slider.value]))
        caption.value = f"<code style='white-space: normal'>{text}</code>"
        frame.value = png_bytes(step.frame)
        tree.value = fit_svg(tree_graph(step.trace).pipe(format="svg").decode(), max_height_px=480)
        # A fixed width: plotly sizes a chart drawn before its box is laid out at 700 px, too wide
        # for half a laptop window. (Set, not captured in the Output: see figure_output.)
        root.outputs = (figure_output(root_figure(step).update_layout(width=ROOT_WIDTH_PX)),)
        values.outputs = (figure_output(values_figure(steps, discount, step.t)),)

    slider.observe(redraw, names="value")
    redraw()
    top = widgets.GridBox(
        [frame, root],
        layout=widgets.Layout(  # side by side, or stacked when narrow
            width="100%",
            grid_gap="8px",
            align_items="flex-start",
            grid_template_columns=f"repeat(auto-fit, minmax({ROOT_WIDTH_PX}px, 1fr))",
        ),
    )
    return widgets.VBox(
        [widgets.HBox([player, slider]), caption, top, tree, values],
        layout=widgets.Layout(width="100%"),
    )
