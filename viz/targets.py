"""Value targets side by side: n-step TD, search-based value estimation (SVE), the mixed choice.

value_targets_figure(age, td, sve, use_td, window)   # targets against the data's age
priorities_figure(precalculated, running_max)        # new-data priorities, with and without
                                                     # priority precalculation
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


def value_targets_figure(
    age: np.ndarray,
    td: np.ndarray,
    sve: np.ndarray,
    use_td: np.ndarray,
    window: int,
    title: str = "value targets by the age of the data",
):
    """Scatter of the TD and SVE targets of sampled transitions against their age.

    `age` [N] transitions collected since each one; `td`, `sve` [N] the two targets;
    `use_td` [N] which one the mixed rule picked; `window` the freshness threshold.
    """
    fig = go.Figure()
    fig.add_scatter(
        x=age,
        y=td,
        mode="markers",
        name="n-step TD target",
        marker=dict(
            symbol="circle",
            size=7,
            color="#1a73e8",
            line=dict(width=2, color=np.where(use_td, "black", "rgba(0,0,0,0)")),
        ),
    )
    fig.add_scatter(
        x=age,
        y=sve,
        mode="markers",
        name="search-based value estimate",
        marker=dict(
            symbol="diamond",
            size=7,
            color="#e8710a",
            line=dict(width=2, color=np.where(use_td, "rgba(0,0,0,0)", "black")),
        ),
    )
    fig.add_vline(
        x=window,
        line_dash="dash",
        line_color="gray",
        annotation_text=f"fresh | stale ({window:,} transitions)",
        annotation_position="top",
    )
    fig.update_layout(
        title=title + " (outlined: the target the mixed rule uses)",
        xaxis_title="age of the transition (transitions collected since)",
        yaxis_title="value target",
        height=380,
        margin=dict(l=50, r=10, t=60, b=40),
    )
    return fig


def priorities_figure(
    precalculated: np.ndarray, running_max: float, title: str = "priority of new data"
):
    """Histogram of precalculated priorities |v - z| against the single value the `max` rule gives."""
    fig = go.Figure()
    fig.add_histogram(
        x=precalculated, nbinsx=40, name="precalculated |v − z|", marker_color="#1a73e8"
    )
    fig.add_vline(
        x=running_max,
        line_color="#d93025",
        line_width=3,
        annotation_text=f"'max' rule: every new transition gets {running_max:.3g}",
    )
    fig.update_layout(
        title=title,
        xaxis_title="priority",
        yaxis_title="transitions",
        height=320,
        margin=dict(l=50, r=10, t=50, b=40),
        showlegend=False,
    )
    return fig
