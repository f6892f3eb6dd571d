"""A live training dashboard fed by the training loop's events (ezv2_lite.train.TrainEvent).

    dashboard = TrainingDashboard()
    display(dashboard.widget)
    train(config, run_dir, observers=[dashboard])

It shows the learning curve (evaluation mean ± std and training episode
returns), the loss terms, the diagnostics (the policy's sharpness at the roots,
the policy target's mass on unvisited actions, the share of SVE value targets,
the value and reward losses by unroll step), the latest evaluation, the current observation and
the latest search tree. Drawing a tree and a frame costs time, so they are
refreshed at most every `refresh_env_steps` env steps.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .tree import tree_graph

LOSS_TERMS = ("value", "reward", "policy", "consistency")
DIAGNOSTICS = {"root_policy_sigma": "policy sigma at the roots", "root_policy_entropy":
               "policy entropy at the roots", "unvisited_target_mass": "target mass on unvisited actions",
               "sve_fraction": "share of SVE value targets"}
"""Diagnostics of the loss lines (ezv2_lite.learner.LossInfo); a run logs one of the first two."""


class TrainingDashboard:
    """ipywidgets + plotly view of a run, updated by calling it with each TrainEvent."""

    def __init__(self, refresh_env_steps: int = 200, title: str = "training"):
        import ipywidgets as widgets

        self.refresh_env_steps = refresh_env_steps
        self._last_frame = self._last_tree = -refresh_env_steps
        layout = dict(height=280, margin=dict(l=50, r=10, t=40, b=40))
        self.curve = go.FigureWidget(layout=dict(title=f"{title}: return", xaxis_title="env steps", **layout))
        self.curve.add_scatter(name="training episodes", mode="markers", marker=dict(size=3, color="gray"))
        self.curve.add_scatter(name="evaluation", mode="lines+markers", line=dict(color="#1a73e8"),
                               error_y=dict(type="data", array=[], visible=True))
        self.losses = go.FigureWidget(layout=dict(title="losses", xaxis_title="train steps", **layout))
        for term in LOSS_TERMS:
            self.losses.add_scatter(name=term, mode="lines")
        self.diagnostics = go.FigureWidget(layout=dict(title="policy and targets", xaxis_title="train steps",
                                                       yaxis_title="sigma, nats or fraction", **layout))
        for name in DIAGNOSTICS.values():
            self.diagnostics.add_scatter(name=name, mode="lines")
        self.by_step = go.FigureWidget(layout=dict(title="losses by unroll step (latest)",
                                                   xaxis_title="unroll step k", yaxis_title="cross-entropy",
                                                   barmode="group", **layout))
        self.by_step.add_bar(name="value")
        self.by_step.add_bar(name="reward")
        self.frame = go.FigureWidget(layout=dict(title="current observation", height=280,
                                                 margin=dict(l=10, r=10, t=40, b=10)))
        self.status = widgets.HTML("<i>waiting for the first events…</i>")
        self.tree = widgets.HTML(layout=widgets.Layout(overflow="auto", max_height="420px"))
        self.widget = widgets.VBox([
            self.status,
            widgets.HBox([self.curve, self.losses]),
            widgets.HBox([self.diagnostics, self.by_step]),
            widgets.HBox([self.frame, widgets.VBox([widgets.HTML("<b>latest search tree</b>"), self.tree])]),
        ])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    # ---------------------------------------------------------------- events

    def __call__(self, event) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event.data)

    def _append(self, figure, index: int, x, y, error=None) -> None:
        trace = figure.data[index]
        with figure.batch_update():
            trace.x = tuple(trace.x or ()) + (x,)
            trace.y = tuple(trace.y or ()) + (y,)
            if error is not None:
                trace.error_y.array = tuple(trace.error_y.array or ()) + (error,)

    def _on_metrics(self, data: dict) -> None:
        if "train_episode_return" in data:
            self._append(self.curve, 0, data["env_steps"], data["train_episode_return"])
        if "total" in data:
            for i, term in enumerate(LOSS_TERMS):
                self._append(self.losses, i, data["train_steps"], data[term])
            for i, key in enumerate(DIAGNOSTICS):
                if key in data:
                    self._append(self.diagnostics, i, data["train_steps"], data[key])
            if "value_by_step" in data:
                with self.by_step.batch_update():
                    self.by_step.data[0].x = list(range(len(data["value_by_step"])))
                    self.by_step.data[0].y = data["value_by_step"]
                    self.by_step.data[1].x = list(range(1, len(data["reward_by_step"]) + 1))
                    self.by_step.data[1].y = data["reward_by_step"]
            self.status.value = (f"env steps <b>{data['env_steps']:,}</b> · train steps "
                                 f"<b>{data['train_steps']:,}</b> · loss {data['total']:.3f} · "
                                 f"{data['wall_s']:.0f} s")

    def _on_eval(self, data: dict) -> None:
        self._append(self.curve, 1, data["env_steps"], data["eval_return_mean"], data["eval_return_std"])
        self.status.value = (f"evaluation at {data['env_steps']:,} env steps: return "
                             f"<b>{data['eval_return_mean']:.1f}</b> ± {data['eval_return_std']:.1f} "
                             f"over {data['eval_episodes']} episodes")

    def _on_frame(self, data: dict) -> None:
        if data["env_steps"] - self._last_frame < self.refresh_env_steps:
            return
        self._last_frame = data["env_steps"]
        obs = np.asarray(data["observation"])
        with self.frame.batch_update():
            self.frame.data = ()
            if obs.ndim == 3:  # the newest RGB frame of a channel-first stack
                self.frame.add_image(z=obs[-3:].transpose(1, 2, 0))
            else:
                self.frame.add_bar(y=obs, name="state")

    def _on_search(self, data: dict) -> None:
        trace = data.get("trace")
        if trace is None or data["env_steps"] - self._last_tree < self.refresh_env_steps:
            return
        self._last_tree = data["env_steps"]
        self.tree.value = tree_graph(trace).pipe(format="svg").decode()
