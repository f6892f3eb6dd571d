"""A live training dashboard fed by the training loop's events (ezv2_lite.train.TrainEvent).

    dashboard = TrainingDashboard(total_env_steps=config.train.total_env_steps)
    display(dashboard.widget)
    train(config, run_dir, observers=[dashboard])

It shows the progress with an expected time, the learning curve (evaluation
mean ± std and training episode returns), the loss terms, the diagnostics (the
policy's sharpness at the roots, the policy target's mass on unvisited actions,
the share of SVE value targets, the value and reward losses by unroll step),
the environment as a frame and the latest search tree.

The charts are plain plotly figures (`dashboard.curve`, `.losses`, ...), each
shown in an output area that holds the whole figure: a page reloaded while the
run goes on draws them again, and they take the width they are given. The
panels sit in a grid that puts two side by side where there is room (an output
area of about 1,100 px) and stacks them below that. Drawing costs time, so the
charts are redrawn at most every `redraw_every_s` seconds (and at every
evaluation), the tree and the frame at most every `refresh_env_steps` env steps.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from ezv2_lite.tools.args import duration

from .pixels import png_bytes
from .tree import fit_svg, tree_graph

LOSS_TERMS = ("value", "reward", "policy", "consistency")
DIAGNOSTICS = {
    "root_policy_sigma": "policy sigma at the roots",
    "root_policy_entropy": "policy entropy at the roots",
    "unvisited_target_mass": "target mass on unvisited actions",
    "sve_fraction": "share of SVE value targets",
}
"""Diagnostics of the loss lines (ezv2_lite.learner.LossSummary); a run logs one of the first two."""

PANEL_MIN_WIDTH_PX = 520
"""Panels narrower than this stack: two side by side need an output area of about 1,100 px."""


def figure_output(figure: go.Figure) -> dict:
    """A figure as one notebook output: plotly's mime type (drawn by JupyterLab's plotly renderer at
    the width it is given) with a line of text for front ends without it."""
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "application/vnd.plotly.v1+json": json.loads(figure.to_json()),
            "text/plain": f"<plotly figure: {figure.layout.title.text}>",
        },
    }


class TrainingDashboard:
    """ipywidgets + plotly view of a run, updated by calling it with each TrainEvent.

    `total_env_steps` (the run's budget) sets the progress bar and the return chart's x range;
    `references` draws returns to compare with as dashed lines on the return chart, by name
    (`{"random policy": -7.2, "maximum": 10}`).
    """

    def __init__(
        self,
        refresh_env_steps: int = 200,
        title: str = "training",
        total_env_steps: int | None = None,
        redraw_every_s: float = 1.0,
        references: dict[str, float] | None = None,
    ):
        import ipywidgets as widgets

        self.refresh_env_steps, self.redraw_every_s = refresh_env_steps, redraw_every_s
        self.total_env_steps = total_env_steps
        self._last_frame = self._last_tree = -refresh_env_steps
        self._last_redraw, self._dirty = -float("inf"), set()
        self._lines_seen: dict[str, int] = {}  # metrics lines drawn, by run directory (catch_up)
        self._learning_since: tuple[float, int] | None = (
            None  # (wall s, learner steps) at the first loss line
        )
        layout = dict(
            height=300,
            autosize=True,
            margin=dict(l=55, r=10, t=40, b=45),
            legend=dict(orientation="h", y=-0.25, x=0),
        )
        self.curve = go.Figure(
            layout=dict(
                title=f"{title}: return",
                xaxis_title="env steps",
                yaxis_title="episode return",
                **layout,
            )
        )
        self.curve.add_scatter(
            name="training episodes", mode="markers", marker=dict(size=4, color="gray")
        )
        self.curve.add_scatter(
            name="evaluation (mean ± std)",
            mode="lines+markers",
            line=dict(color="#1a73e8"),
            error_y=dict(type="data", array=[], visible=True),
        )
        if total_env_steps:  # the whole budget, with room for the markers at its end
            self.curve.update_xaxes(range=[-0.02 * total_env_steps, 1.02 * total_env_steps])
        for name, value in (references or {}).items():
            self.curve.add_hline(
                y=value,
                line=dict(dash="dash", color="gray", width=1),
                annotation_text=f"{name} ({value:g})",
                annotation_position="top left",
            )
        self.losses = go.Figure(
            layout=dict(
                title="losses",
                xaxis_title="learner steps",
                yaxis_title="loss (cross-entropy or cosine)",
                **layout,
            )
        )
        for term in LOSS_TERMS:
            self.losses.add_scatter(name=term, mode="lines")
        self.diagnostics = go.Figure(
            layout=dict(
                title="policy and targets",
                xaxis_title="learner steps",
                yaxis_title="sigma, nats or fraction",
                **layout,
            )
        )
        # (the last two dashed and dotted, the dashed one wider: both are often 0 for a while, and
        # one must not hide the other)
        styles = {
            "unvisited_target_mass": dict(dash="dash", width=4),
            "sve_fraction": dict(dash="dot", width=2),
        }
        for key, name in DIAGNOSTICS.items():
            self.diagnostics.add_scatter(name=name, mode="lines", line=styles.get(key, {}))
        self.by_step = go.Figure(
            layout=dict(
                title="losses by unroll step (latest)",
                xaxis_title="unroll step k",
                yaxis_title="cross-entropy",
                barmode="group",
                **layout,
            )
        )
        self.by_step.add_bar(name="value")
        self.by_step.add_bar(name="reward")
        self.observation = go.Figure(
            layout=dict(
                title="current observation", xaxis_title="component", yaxis_title="value", **layout
            )
        )
        self.figures = {
            "curve": self.curve,
            "losses": self.losses,
            "diagnostics": self.diagnostics,
            "by_step": self.by_step,
            "observation": self.observation,
        }
        self.views = {
            name: widgets.Output(layout=widgets.Layout(width="100%", min_width="0"))
            for name in self.figures
        }

        self.status = widgets.HTML("<i>waiting for the first events…</i>")
        self.progress = widgets.FloatProgress(
            value=0, min=0, max=1, layout=widgets.Layout(width="100%")
        )
        self.frame = widgets.Image(
            format="png",
            layout=widgets.Layout(
                width="100%", max_width="420px", object_fit="contain", display="none"
            ),
        )
        self.frame.add_class("ezv2-frame")
        self.frame_caption = widgets.HTML("<b>the environment</b> <i>(waiting for a frame)</i>")
        self.tree = widgets.HTML(
            "<i>waiting for a search…</i>", layout=widgets.Layout(width="100%", overflow="auto")
        )
        self.views["observation"].layout.display = "none"
        panel = dict(min_width="0", width="100%")
        self.widget = widgets.VBox(
            [
                self.status,
                self.progress,
                widgets.GridBox(
                    [
                        self.views["curve"],
                        self.views["losses"],
                        self.views["diagnostics"],
                        self.views["by_step"],
                        widgets.VBox(
                            [self.frame_caption, self.frame, self.views["observation"]],
                            layout=widgets.Layout(**panel),
                        ),
                        widgets.VBox(
                            [
                                widgets.HTML(
                                    "<b>latest search tree</b> (the whole tree, fitted to the width; "
                                    "green: the chosen action)"
                                ),
                                self.tree,
                            ],
                            layout=widgets.Layout(**panel),
                        ),
                    ],
                    layout=widgets.Layout(
                        width="100%",
                        grid_gap="8px",
                        grid_template_columns=f"repeat(auto-fit, minmax({PANEL_MIN_WIDTH_PX}px, 1fr))",
                    ),
                ),
            ],
            layout=widgets.Layout(width="100%", max_width="100%"),
        )
        self._redraw(force=True)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    # ---------------------------------------------------------------- drawing

    def _redraw(self, force: bool = False) -> None:
        """Show the figures changed since the last redraw (at most every `redraw_every_s` seconds)."""
        now = time.monotonic()
        if not force and now - self._last_redraw < self.redraw_every_s:
            return
        self._last_redraw = now
        for name in self.figures if force else sorted(self._dirty):
            self.views[name].outputs = (figure_output(self.figures[name]),)
        self._dirty.clear()

    # ---------------------------------------------------------------- a run elsewhere

    def catch_up(self, run_dir) -> int:
        """Draw the metrics lines a run has written since the last call (a run training in another
        process, e.g. a sweep's Ray worker: only its curves and losses, no frames or trees).
        Returns how many lines were new."""
        from ezv2_lite.tools.report import read_metrics
        from ezv2_lite.train import TrainEvent

        lines = read_metrics(run_dir) if (Path(run_dir) / "metrics.jsonl").exists() else []
        seen = self._lines_seen.get(str(run_dir), 0)
        for data in lines[seen:]:
            self(TrainEvent("eval" if "eval_return_mean" in data else "metrics", data))
        self._lines_seen[str(run_dir)] = len(lines)
        self._redraw(force=True)
        return len(lines) - seen

    def follow(self, run_dir, every_s: float = 5.0):
        """Follow a run that trains elsewhere: `catch_up` every `every_s` seconds in a background
        thread until the run is finished. Returns the thread."""
        from ezv2_lite.tools.report import is_finished

        def loop() -> None:
            while True:
                self.catch_up(run_dir)
                if is_finished(Path(run_dir)):
                    return
                time.sleep(every_s)

        thread = threading.Thread(target=loop, daemon=True, name=f"follow {run_dir}")
        thread.start()
        return thread

    # ---------------------------------------------------------------- events

    def __call__(self, event) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event.data)

    def _append(self, name: str, index: int, x, y, error=None) -> None:
        trace = self.figures[name].data[index]
        trace.x = tuple(trace.x or ()) + (x,)
        trace.y = tuple(trace.y or ()) + (y,)
        if error is not None:
            trace.error_y.array = tuple(trace.error_y.array or ()) + (error,)
        self._dirty.add(name)

    def _progress(self, env_steps: int, wall_s: float, train_steps: int) -> str:
        """The progress bar's value and a line: steps done, the share of the budget, the time left.

        Learner steps take most of a run's time, so the time left is the learner steps still to
        come (train_ratio per env step: as many per env step as so far) at the rate measured since
        the first loss line; acting alone, before learning starts, is much faster."""
        if not self.total_env_steps:
            return f"env steps <b>{env_steps:,}</b>"
        self.progress.value = min(env_steps / self.total_env_steps, 1.0)
        text = f"env steps <b>{env_steps:,}</b> of {self.total_env_steps:,} ({self.progress.value:.0%})"
        if self._learning_since is None and train_steps > 0:
            self._learning_since = (wall_s, train_steps)
        if self._learning_since is not None:
            since_s, since_steps = self._learning_since
            if train_steps > since_steps and wall_s > since_s:
                rate = (train_steps - since_steps) / (wall_s - since_s)
                to_come = train_steps * (self.total_env_steps / env_steps - 1)
                text += f" · about {duration(to_come / rate)} left"
        return text

    def _on_metrics(self, data: dict) -> None:
        if "train_episode_return" in data:
            self._append("curve", 0, data["env_steps"], data["train_episode_return"])
        if "total" in data:
            for i, term in enumerate(LOSS_TERMS):
                self._append("losses", i, data["train_steps"], data[term])
            for i, key in enumerate(DIAGNOSTICS):
                if key in data:
                    self._append("diagnostics", i, data["train_steps"], data[key])
            if "value_by_step" in data:
                value, reward = self.by_step.data
                value.x, value.y = list(range(len(data["value_by_step"]))), data["value_by_step"]
                reward.x = list(range(1, len(data["reward_by_step"]) + 1))
                reward.y = data["reward_by_step"]
                self._dirty.add("by_step")
            self.status.value = (
                f"{self._progress(data['env_steps'], data['wall_s'], data['train_steps'])}"
                f" · learner steps <b>{data['train_steps']:,}</b> · loss {data['total']:.3f}"
                f" · {duration(data['wall_s'])} so far"
            )
        self._redraw()

    def _on_eval(self, data: dict) -> None:
        self._append(
            "curve", 1, data["env_steps"], data["eval_return_mean"], data["eval_return_std"]
        )
        episodes = data["eval_episodes"]
        self.status.value = (
            f"evaluation at {data['env_steps']:,} env steps: return "
            f"<b>{data['eval_return_mean']:.1f}</b> ± {data['eval_return_std']:.1f} "
            f"over {episodes} episode{'s' if episodes != 1 else ''}"
        )
        self._redraw(force=True)

    def _on_frame(self, data: dict) -> None:
        if data["env_steps"] - self._last_frame < self.refresh_env_steps:
            return
        self._last_frame = data["env_steps"]
        obs = np.asarray(data["observation"])
        render = data.get("render")
        frame = render() if render is not None else None
        if frame is None and obs.ndim == 3:  # the newest RGB frame of a channel-first stack
            frame = obs[-3:].transpose(1, 2, 0)
        if frame is not None:
            self.frame.value = png_bytes(frame)
            self.frame.layout.display = None
            self.frame_caption.value = f"<b>the environment</b> at {data['env_steps']:,} env steps"
            return
        self.observation.data = ()  # a state the environment cannot draw: its components as bars
        self.observation.add_bar(y=obs.ravel().tolist(), name="state")
        self.views["observation"].layout.display = None
        self.frame_caption.value = f"<b>the observation</b> at {data['env_steps']:,} env steps"
        self._dirty.add("observation")

    def _on_search(self, data: dict) -> None:
        trace = data.get("trace")
        if trace is None or data["env_steps"] - self._last_tree < self.refresh_env_steps:
            return
        self._last_tree = data["env_steps"]
        self.tree.value = fit_svg(tree_graph(trace).pipe(format="svg").decode(), max_height_px=420)
