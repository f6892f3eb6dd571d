"""The ablation lab: what each part of EfficientZero V2 buys, asked of a sweep with arms.

The paper argues for its parts: Gumbel search that improves the policy with few
simulations (§4.1), sampled actions for continuous control (§4.2), search-based
value estimation (§4.3) and the mixed value target and priority precalculation
(§4.4). Each `Question` here states one claim as comparisons between the arms of
the sweep `benchmarks/ablations/grid.toml` (each arm the preset with one part
changed by config overrides). `answer` decides each comparison on every task
where the sweep has both arms, from the final evaluation return of each
*finished* run (a run still training is left out and counted):

- "better" (arm A beats arm B): the difference of their interquartile means,
  IQM(A) - IQM(B), with its 95% bootstrap interval (each arm's runs resampled on
  their own, rliable's independent stratified bootstrap). *supported* where the
  interval lies above 0, *not supported* where it lies at or below 0 (no gain
  or the reverse), *not resolved at this scale* where it straddles 0;
- "no worse" (A is at most a margin below B): the same interval judged against
  -margin; the margin is a tenth of how far B's IQM lies above a uniformly
  random policy's mean return on the task (so "a tenth of what B learned");
- with fewer than `MIN_RUNS` finished runs in either arm: *too few runs*
  (a bootstrap over one or two runs has an interval of almost no width).

Percentile-bootstrap intervals over 5 runs are, if anything, too narrow, and a
table of some thirty comparisons at 95% each will hold a wrong verdict or two by
chance alone: read a verdict as evidence at this scale, not as proof.

    ezv2-lite sweep --sweep-dir runs/ablations --grid benchmarks/ablations/grid.toml
    ezv2-lite report runs/ablations        # the per-arm table, then the questions' verdicts
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..evaluate import interquartile_mean, random_policy_returns
from .report import is_finished
from .sweep_report import BOOTSTRAP_REPS, interval_estimates, seeded_numpy, sweep_tasks

MARGIN = 0.1
"""A "no worse" comparison's margin: this fraction of the other arm's IQM above a random policy."""
MIN_RUNS = 3
"""Fewer finished runs than this in either arm: no verdict."""
RANDOM_EPISODES = 20


@dataclass(frozen=True)
class Comparison:
    """`arm` against `other`: "better" (arm beats other) or "no worse" (arm within a margin)."""

    arm: str
    other: str
    kind: str = "better"


@dataclass(frozen=True)
class Question:
    name: str
    claim: str
    """The claim in one sentence, with the paper's section; "(ours)" where the paper makes none."""
    comparisons: tuple[Comparison, ...]


QUESTIONS = (
    Question(
        "value target",
        "On stale replay data the search's value estimate (SVE, paper §4.3) is a better target than "
        "the n-step TD return, and the mixed rule (TD on fresh data, SVE on stale data, §4.4) ends "
        "higher than either alone.",
        (Comparison("default", "td"), Comparison("default", "sve")),
    ),
    Question(
        "simulations",
        "Gumbel search improves the policy even with very few simulations (paper §4.1); tested here as: "
        "2, 4 and 8 simulations end no worse than 16 by more than the margin.",
        (
            Comparison("sims_2", "default", "no worse"),
            Comparison("sims_4", "default", "no worse"),
            Comparison("default", "sims_16", "no worse"),
            Comparison("sims_8", "default", "no worse"),
        ),
    ),
    Question(
        "q-transform",
        "(ours) At the same simulation budget, EZ-V2's completed Q (the node's backed-up value in the "
        "mixed value, min-max over the whole tree, paper §4.1) ends no worse than Gumbel MuZero's "
        "(the network's raw value, min-max over the node's children).",
        (
            Comparison("default", "gmz_default", "no worse"),
            Comparison("sims_2", "gmz_2", "no worse"),
            Comparison("sims_4", "gmz_4", "no worse"),
            Comparison("sims_8", "gmz_8", "no worse"),
            Comparison("sims_16", "gmz_16", "no worse"),
        ),
    ),
    Question(
        "priorities",
        "New data entering the replay with precalculated priorities (their own TD errors, paper §4.4) "
        "ends higher than new data at the buffer's maximum priority; (ours) and than uniform replay.",
        (Comparison("default", "max_priority"), Comparison("default", "uniform")),
    ),
    Question(
        "continuous search",
        "Sampling root actions partly from a widened policy (4 from the policy, 12 from it with 3x the "
        "spread, paper §4.2) ends higher than 16 samples from the policy alone; (ours) and than "
        "sampling fewer actions (8 or 4, in the same proportions).",
        (
            Comparison("default", "policy_only"),
            Comparison("default", "samples_8"),
            Comparison("default", "samples_4"),
        ),
    ),
)


def relation(row: dict) -> str:
    """A comparison as it reads: "default > td", "sims_2 ≥ default − 48"."""
    if row["kind"] == "better":
        return f"{row['arm']} > {row['other']}"
    return f"{row['arm']} ≥ {row['other']} − {row['margin']:.0f}"


def compare(
    scores: np.ndarray, other: np.ndarray, kind: str, margin: float = 0.0, seed: int = 0
) -> dict:
    """Two arms' final returns [runs] -> the difference of their IQMs with its 95% interval, the
    probability that a run of the first beats a run of the second, and the verdict."""
    from rliable import library as rly
    from rliable import metrics

    def difference(a, b):
        return np.array([interquartile_mean(a.ravel()) - interquartile_mean(b.ravel())])

    with seeded_numpy(seed):  # (rliable draws from numpy's global generator)
        points, intervals = rly.get_interval_estimates(
            {"pair": [scores[:, None], other[:, None]]}, difference, reps=BOOTSTRAP_REPS
        )
    point, low, high = points["pair"][0], intervals["pair"][0, 0], intervals["pair"][1, 0]
    line = 0.0 if kind == "better" else -margin
    if min(len(scores), len(other)) < MIN_RUNS:
        verdict = "too few runs"
    elif low > line:
        verdict = "supported"
    elif high < line or (kind == "better" and high <= line):
        verdict = "not supported"
    else:
        verdict = "not resolved at this scale"
    return {
        "difference": (float(point), float(low), float(high)),
        "margin": margin,
        "probability_of_improvement": float(
            metrics.probability_of_improvement(scores[:, None], other[:, None])
        ),
        "verdict": verdict,
    }


def answer(sweep_dir: str | Path, questions: tuple[Question, ...] = QUESTIONS) -> list[dict]:
    """Every comparison of every question on every task where the sweep has finished runs of both
    arms: the rows of the ablation table (question, task, arms, finished runs and those left out,
    IQM [95% interval] of each arm, the difference, the margin, the verdict)."""
    groups: dict[str, dict] = {}
    for runs in sweep_tasks(sweep_dir):
        groups.setdefault(runs.task, {})[runs.arm] = runs
    scores, iqms, random_means = {}, {}, {}

    def arm_scores(task, arm):
        if (task, arm) not in scores:
            runs = groups[task][arm]
            finished = [is_finished(d) for d in runs.run_dirs]
            values = runs.scores("final")[np.array(finished, dtype=bool)]
            scores[task, arm] = (values, finished.count(False))
            iqms[task, arm] = (
                interval_estimates(values[:, None], False)["IQM"] if len(values) else (np.nan,) * 3
            )
        return scores[task, arm]

    rows = []
    for question in questions:
        for task, arms in groups.items():
            for comparison in question.comparisons:
                if comparison.arm not in arms or comparison.other not in arms:
                    continue
                (a, a_left), (b, b_left) = (
                    arm_scores(task, comparison.arm),
                    arm_scores(task, comparison.other),
                )
                if not len(a) or not len(b):
                    continue
                margin = 0.0
                if comparison.kind == "no worse":
                    if task not in random_means:
                        random_means[task] = float(
                            random_policy_returns(
                                arms[comparison.other].env, RANDOM_EPISODES, seed=0
                            ).mean()
                        )
                    margin = MARGIN * abs(iqms[task, comparison.other][0] - random_means[task])
                rows.append(
                    {
                        "question": question.name,
                        "task": task,
                        "arm": comparison.arm,
                        "other": comparison.other,
                        "kind": comparison.kind,
                        "runs": (len(a), len(b)),
                        "left_out": (a_left, b_left),
                        "iqm": iqms[task, comparison.arm],
                        "other_iqm": iqms[task, comparison.other],
                        **compare(a, b, comparison.kind, margin),
                    }
                )
    return rows


def verdict_status(rows: list[dict], questions: tuple[Question, ...] = QUESTIONS) -> str:
    """In words, for a sweep still under way: how many comparisons have a verdict, the finished
    runs each arm still needs before the others can have one (`MIN_RUNS` in both arms), and the
    questions that have no comparison at all yet."""
    decided = sum(row["verdict"] != "too few runs" for row in rows)
    lines = [f"{decided} of {len(rows)} comparisons have a verdict."]
    needed: dict[tuple[str, str], int] = {}
    for row in rows:
        for arm, runs in zip((row["arm"], row["other"]), row["runs"], strict=True):
            if runs < MIN_RUNS:
                needed[row["task"], arm] = MIN_RUNS - runs
    if needed:
        lines.append(f"A verdict needs {MIN_RUNS} finished runs in both arms; still to finish:")
        for task in dict.fromkeys(task for task, _ in needed):
            arms = ", ".join(
                f"{arm}\N{NO-BREAK SPACE}{n}\N{NO-BREAK SPACE}more"  # (wrapped between arms)
                for (t, arm), n in needed.items()
                if t == task
            )
            lines.append(
                textwrap.fill(
                    f"{task}: {arms}", width=96, initial_indent="  ", subsequent_indent="    "
                )
            )
    unasked = [q.name for q in questions if not any(row["question"] == q.name for row in rows)]
    if unasked:
        lines.append(f"No finished runs of both arms of any comparison yet: {', '.join(unasked)}.")
    return "\n".join(lines)


def answers_table(rows: list[dict]) -> str:
    """The rows as text, one comparison a line."""
    if not rows:
        return "no question of ezv2_lite/tools/ablations.py has finished runs of both of its arms in this sweep"

    def iqm(estimate):
        point, low, high = estimate
        return f"{point:7.1f} [{low:7.1f}, {high:7.1f}]"

    lines = [
        f"{'question':<18} {'task':<24} {'comparison':<28} {'runs':>5}  {'IQM [95% CI]':<25} "
        f"{'other IQM [95% CI]':<25} {'difference [95% CI]':<25} verdict"
    ]
    for row in rows:
        left = f" ({sum(row['left_out'])} unfinished left out)" if sum(row["left_out"]) else ""
        lines.append(
            f"{row['question']:<18} {row['task']:<24} {relation(row):<28} "
            f"{row['runs'][0]:>2}/{row['runs'][1]:<2}  {iqm(row['iqm'])} {iqm(row['other_iqm'])} "
            f"{iqm(row['difference'])} {row['verdict']}{left}"
        )
    return "\n".join(lines)
