"""Progress bars that read well wherever they are shown.

In a terminal a bar redraws itself in place; in JupyterLab it is a widget (tqdm.auto chooses).
When the output goes to a file instead (`ezv2-lite train ... 2> train.log`, a cluster's log), a
redraw in place would leave one endless line of carriage returns, or a thousand escape codes:
there each redraw becomes a plain line of its own, at most every PLAIN_EVERY_S seconds.
"""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

PLAIN_EVERY_S = 30.0
"""How often a bar writes a line when its output is not a terminal."""


class ProgressLines:
    """A stream that writes each redraw of a bar as one line of its own."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\r", "").replace("\x1b[A", "").strip()
        if line:
            self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def in_notebook() -> bool:
    """Whether the bars are Jupyter widgets (tqdm.auto chose its notebook bar)."""
    from tqdm.notebook import tqdm_notebook

    return issubclass(tqdm, tqdm_notebook)


def to_a_file() -> bool:
    """Whether the bars' output (stderr) goes neither to a terminal nor to a notebook."""
    return not sys.stderr.isatty() and not in_notebook()


def progress_bar(**kwargs) -> tqdm:
    """tqdm.auto's bar with `kwargs`, as plain lines every PLAIN_EVERY_S seconds when the
    output is neither a terminal nor a notebook (`to_a_file`)."""
    if not kwargs.get("disable") and to_a_file():
        kwargs |= dict(
            file=ProgressLines(sys.stderr), mininterval=PLAIN_EVERY_S, dynamic_ncols=False
        )
    return tqdm(**kwargs)


def finish(bar: tqdm) -> None:
    """Close `bar` as complete where it stands, for work that ended before the total it was given
    (an episode over before its step cap, a phase handed on). Closed short of its total, a bar
    reads as broken: a notebook draws it red and part-filled."""
    bar.total = bar.n
    if in_notebook() and not bar.disable:  # the widget keeps its own maximum, set when it was drawn
        bar.container.children[1].max = bar.n
    bar.close()
