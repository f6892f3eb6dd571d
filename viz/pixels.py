"""Pixels and the value prefix, as plotly figures (paper §3-4; docs/algorithm.md §1.2, §5).

    frames_figure(images, titles, title)    RGB images side by side, each under its title
    frame_stack_figure(obs)                 the S frames of one stacked observation
    augmentations_figure(obs, count)        the newest frame, then `count` augmented copies
    value_prefix_figure(rewards, prefix)    predicted value prefix against the true
                                            running reward sum, with the LSTM resets
    png_bytes(env.render())                 a rendered frame as a PNG (IPython's Image, ipywidgets)

Observations are channel-first uint8 stacks [S*3, H, W] (oldest frame first), as
the environments and the replay return them.
"""

from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from ezv2_lite.augment import augment
from ezv2_lite.returns import value_prefixes


def png_bytes(frame: np.ndarray) -> bytes:
    """[H, W, 3] uint8 -> the bytes of a PNG image."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def frames_of(obs: np.ndarray) -> list[np.ndarray]:
    """[S*3, H, W] -> S RGB frames [H, W, 3], oldest first."""
    return [np.moveaxis(obs[i : i + 3], 0, -1) for i in range(0, obs.shape[0], 3)]


def frames_figure(images: list[np.ndarray], titles: list[str], title: str) -> go.Figure:
    """RGB images [H, W, 3] side by side, each under its title, at the width the figure is shown
    in (no fixed width to overflow)."""
    fig = make_subplots(rows=1, cols=len(images), subplot_titles=titles, horizontal_spacing=0.02)
    for col, image in enumerate(images, start=1):
        fig.add_trace(go.Image(z=image), row=1, col=col)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title=title, height=260, autosize=True, margin=dict(l=10, r=10, t=70, b=10))
    return fig


def frame_stack_figure(
    obs: np.ndarray, title: str = "one observation: a stack of frames"
) -> go.Figure:
    """One image per frame of a stacked observation [S*3, H, W], oldest (t-S+1) to newest (t)."""
    frames = frames_of(obs)
    s = len(frames)
    return frames_figure(
        frames, [f"t{k - s + 1:+d}" if k < s - 1 else "t" for k in range(s)], title
    )


def augmentations_figure(
    obs: np.ndarray,
    count: int = 4,
    seed: int = 0,
    title: str = "random shift (up to 4 px) and intensity (±10 %)",
) -> go.Figure:
    """The newest frame of `obs` [S*3, H, W], then the newest frame of `count` augmented copies."""
    generator = torch.Generator().manual_seed(seed)
    batch = torch.as_tensor(np.repeat(obs[None], count, axis=0))
    augmented = augment(batch, generator=generator).numpy()  # [count, S*3, H, W] floats
    images = [frames_of(obs)[-1]]
    images += [(np.clip(frames_of(a)[-1], 0, 1) * 255).astype(np.uint8) for a in augmented]
    return frames_figure(images, ["original"] + [f"augmented {i + 1}" for i in range(count)], title)


def value_prefix_figure(
    rewards: np.ndarray,
    predicted_prefix: np.ndarray,
    horizon: int = 5,
    title: str = "value prefix along an unroll",
) -> go.Figure:
    """The model's predicted value prefix at unroll steps 1..K against the true running sum
    of the rewards (reset every `horizon` steps), and the rewards themselves as bars."""
    steps = np.arange(1, len(rewards) + 1)
    fig = go.Figure()
    fig.add_trace(
        go.Bar(x=steps, y=rewards, name="reward r_k", marker_color="#bdc1c6", opacity=0.7)
    )
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=value_prefixes(np.asarray(rewards, float), horizon),
            mode="lines+markers",
            line_shape="hv",
            name="true sum since reset",
            line=dict(color="#1a73e8"),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=steps,
            y=predicted_prefix,
            mode="markers",
            name="predicted value prefix",
            marker=dict(color="#d93025", size=9, symbol="x"),
        )
    )
    for reset in range(horizon, len(rewards), horizon):
        fig.add_vline(x=reset + 0.5, line_dash="dot", line_color="gray")
    fig.update_layout(
        title=title,
        xaxis_title="unroll step k",
        yaxis_title="reward",
        height=360,
        legend=dict(orientation="h", y=-0.25),
    )
    return fig
