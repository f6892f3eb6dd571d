"""The ablation lab's answers, drawn (ezv2_lite/tools/ablations.py).

    question_figure(rows, "value target")   per task, each arm's final-return IQM with its 95% interval
    answers_html(rows)                      the comparisons as an HTML table, verdicts coloured

`rows` are what `ezv2_lite.tools.ablations.answer(sweep_dir)` returns: one comparison of
two arms on one task each, with both arms' IQM (point, low, high), the difference
of the IQMs with its interval, the margin of a "no worse" comparison and the verdict.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ezv2_lite.tools.ablations import relation

VERDICT_COLOURS = {
    "supported": "#188038",
    "not supported": "#c5221f",
    "not resolved at this scale": "#b06000",
    "too few runs": "#5f6368",
}


def question_figure(rows: list[dict], question: str) -> go.Figure:
    """One panel per task: a row per arm of the question, its IQM over runs (final evaluation) as a
    dot and its 95% bootstrap interval as a bar; each comparison's verdict under the panel."""
    mine = [row for row in rows if row["question"] == question]
    if not mine:
        raise ValueError(
            f"no comparison of {question!r} in these rows: has the sweep run both arms of it?"
        )
    tasks = list(dict.fromkeys(row["task"] for row in mine))
    fig = make_subplots(rows=1, cols=len(tasks), subplot_titles=tasks, horizontal_spacing=0.12)
    for col, task in enumerate(tasks, start=1):
        estimates: dict[str, tuple] = {}
        for row in (r for r in mine if r["task"] == task):
            estimates.setdefault(row["arm"], (row["iqm"], row["runs"][0]))
            estimates.setdefault(row["other"], (row["other_iqm"], row["runs"][1]))
        arms = list(estimates)[::-1]  # (the first arm at the top)
        points = [estimates[arm][0] for arm in arms]
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in points],
                y=arms,
                mode="markers",
                marker=dict(size=10, color="#1a73e8"),
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=[p[2] - p[0] for p in points],
                    arrayminus=[p[0] - p[1] for p in points],
                    thickness=2,
                    width=6,
                ),
                customdata=[
                    [p[1], p[2], estimates[arm][1]] for arm, p in zip(arms, points, strict=True)
                ],
                hovertemplate="%{y}: IQM %{x:.1f} [%{customdata[0]:.1f}, %{customdata[1]:.1f}], "
                "%{customdata[2]} runs<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        verdicts = "<br>".join(
            f"{relation(row)}: <span style='color:{VERDICT_COLOURS[row['verdict']]}'>{row['verdict']}</span>"
            for row in mine
            if row["task"] == task
        )
        fig.update_xaxes(
            title_text=f"final evaluation return (IQM, 95% interval)<br><br>{verdicts}",
            row=1,
            col=col,
        )
        fig.update_yaxes(title_text="arm" if col == 1 else None, row=1, col=col)
    lines = max(sum(1 for row in mine if row["task"] == task) for task in tasks)
    arms_shown = max(
        len(
            {r["arm"] for r in mine if r["task"] == t}
            | {r["other"] for r in mine if r["task"] == t}
        )
        for t in tasks
    )
    fig.update_layout(
        title=f"{question}: each arm's final return over its runs",
        autosize=True,
        height=160 + 40 * arms_shown + 22 * lines,
        margin=dict(l=10, r=10, t=70, b=40 + 22 * lines),
    )
    return fig


def answers_html(rows: list[dict]) -> str:
    """The comparisons as an HTML table: question, task, comparison, runs, both IQMs [95% CI], the
    difference [95% CI] and the verdict (coloured)."""

    def cell(estimate):  # the estimate above its interval, neither broken inside
        point, low, high = estimate
        return f"{point:.1f}<br><span style='white-space:nowrap'>[{low:.1f}, {high:.1f}]</span>"

    head = [
        "question",
        "task",
        "comparison",
        "finished runs",
        "IQM [95% CI]",
        "other arm's IQM",
        "difference",
        "verdict",
    ]
    body = []
    for row in rows:
        colour = VERDICT_COLOURS[row["verdict"]]
        left = f" (+{sum(row['left_out'])} unfinished)" if sum(row["left_out"]) else ""
        cells = [
            html.escape(row["question"]),
            html.escape(row["task"]),
            html.escape(relation(row)),
            f"{row['runs'][0]} / {row['runs'][1]}{left}",
            cell(row["iqm"]),
            cell(row["other_iqm"]),
            cell(row["difference"]),
            f"<b style='color:{colour}'>{row['verdict']}</b>",
        ]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        "<table style='font-size:90%'><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )
