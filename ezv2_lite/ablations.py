"""The ablation lab: what each part of EfficientZero V2 buys, asked of a sweep with arms.

The paper argues for its parts (search-based value estimation and the mixed value
target, paper §4.3; Gumbel search that improves the policy with few simulations,
§4.1; sampled actions for continuous control, §4.2; priority precalculation, §4.4).
Each `Question` here states one claim as comparisons between the arms of the
sweep `benchmarks/ablations/grid.toml` (each arm a config override), and
`answer` decides each comparison from the runs' final evaluation returns:

- "better" (arm A beats arm B): the difference of their interquartile means,
  IQM(A) - IQM(B), with its 95% bootstrap interval (each arm's runs resampled on
  their own, rliable's independent stratified bootstrap). *supported* where the
  interval lies above 0, *not supported* where it lies at or below 0 (no gain
  or the reverse), *not resolved at this scale* where it straddles 0;
- "no worse" (A is at most a margin below B): the same interval against
  -margin, the margin being a tenth of the task's return range
  (`report.return_bounds`): supported where the interval lies above -margin,
  not supported where it lies below, not resolved where it straddles it.

    ezv2-lite sweep --sweep-dir runs/ablations --grid benchmarks/ablations/grid.toml
    ezv2-lite report runs/ablations        # the per-arm table, then the questions' verdicts
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .evaluate import interquartile_mean
from .report import return_bounds
from .sweep_report import BOOTSTRAP_REPS, sweep_tasks

MARGIN = 0.1
"""A "no worse" comparison's margin, as a fraction of the task's return range."""


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
    """The paper's claim (or ours, where the paper makes none), in one sentence, with its section."""
    comparisons: tuple[Comparison, ...]


QUESTIONS = (
    Question("value target",
             "Search-based value estimation fixes the n-step TD target on stale data, and the mixed rule "
             "(TD on fresh data, the search's value on old data) beats either alone (paper §4.3).",
             (Comparison("default", "td"), Comparison("default", "sve"))),
    Question("simulations",
             "Gumbel search improves the policy even with very few simulations (paper §4.1): 2 and 4 "
             "simulations are no worse than the preset's budget by more than a tenth of the return range.",
             (Comparison("sims_2", "default", "no worse"), Comparison("sims_4", "default", "no worse"))),
    Question("q-transform",
             "Not a claim of the paper: EZ-V2's q-transform (mixed value and the tree's min-max, paper §4.1) "
             "is no worse than Gumbel MuZero's at the same simulation budget.",
             (Comparison("default", "gmz_default", "no worse"), Comparison("sims_2", "gmz_2", "no worse"),
              Comparison("sims_4", "gmz_4", "no worse"))),
    Question("priorities",
             "Priority precalculation (new data enter with priorities from their own TD errors) learns "
             "faster than giving new data the buffer's maximum priority, and than uniform replay (paper §4.4).",
             (Comparison("default", "max_priority"), Comparison("default", "uniform"))),
    Question("continuous search",
             "Sampling 4 actions from the policy and 12 from a widened policy beats 16 policy samples, "
             "and 16 samples beat fewer (paper §4.2).",
             (Comparison("default", "policy_only"), Comparison("default", "samples_8"),
              Comparison("default", "samples_4"))),
)


def compare(scores: np.ndarray, other: np.ndarray, kind: str, margin: float = 0.0, seed: int = 0) -> dict:
    """Two arms' final returns [runs] -> the difference of their IQMs with its 95% interval, the
    probability that a run of the first beats a run of the second, and the verdict."""
    from rliable import library as rly
    from rliable import metrics

    def statistics(a, b):
        return np.array([interquartile_mean(a.ravel()) - interquartile_mean(b.ravel()),
                         metrics.probability_of_improvement(a, b)])

    np.random.seed(seed)  # (rliable draws from numpy's global generator)
    points, intervals = rly.get_interval_estimates(
        {"pair": [scores[:, None], other[:, None]]}, statistics, reps=BOOTSTRAP_REPS)
    difference, low, high = points["pair"][0], intervals["pair"][0, 0], intervals["pair"][1, 0]
    line = 0.0 if kind == "better" else -margin
    if kind == "better":
        verdict = "supported" if low > line else "not supported" if high <= line else "not resolved at this scale"
    else:
        verdict = "supported" if low > line else "not supported" if high < line else "not resolved at this scale"
    return {"difference": (float(difference), float(low), float(high)), "margin": margin,
            "probability_of_improvement": float(points["pair"][1]), "verdict": verdict}


def answer(sweep_dir: str | Path, questions: tuple[Question, ...] = QUESTIONS) -> list[dict]:
    """Every comparison of every question on every task where the sweep has both arms: the rows
    of the ablation table (question, task, arms, runs, IQM [95% interval] of each, verdict)."""
    from .sweep_report import interval_estimates

    groups: dict[str, dict[str, object]] = {}
    for runs in sweep_tasks(sweep_dir):
        task = runs.key.rsplit(" · ", 1)[0] if runs.arm else runs.key
        groups.setdefault(task, {})[runs.arm] = runs
    rows = []
    for question in questions:
        for task, arms in groups.items():
            for comparison in question.comparisons:
                if comparison.arm not in arms or comparison.other not in arms:
                    continue
                first, second = arms[comparison.arm], arms[comparison.other]
                a, b = first.scores("final"), second.scores("final")
                bounds = return_bounds(first.env)
                margin = MARGIN * (bounds[1] - bounds[0]) if bounds else 0.0
                rows.append({"question": question.name, "task": task, "arm": comparison.arm,
                             "other": comparison.other, "kind": comparison.kind, "runs": (len(a), len(b)),
                             "iqm": interval_estimates(a[:, None], False)["IQM"],
                             "other_iqm": interval_estimates(b[:, None], False)["IQM"],
                             **compare(a, b, comparison.kind, margin)})
    return rows


def answers_table(rows: list[dict]) -> str:
    """The rows as text, one comparison a line."""
    def iqm(estimate):
        point, low, high = estimate
        return f"{point:7.1f} [{low:7.1f}, {high:7.1f}]"

    lines = [f"{'question':<18} {'task':<24} {'comparison':<34} {'runs':>5}  {'IQM [95% CI]':<27} "
             f"{'other IQM [95% CI]':<27} {'difference [95% CI]':<27} verdict"]
    for row in rows:
        relation = f"{row['arm']} > {row['other']}" if row["kind"] == "better" else \
            f"{row['arm']} ≥ {row['other']} − {row['margin']:.0f}"
        lines.append(f"{row['question']:<18} {row['task']:<24} {relation:<34} "
                     f"{row['runs'][0]:>2}/{row['runs'][1]:<2}  {iqm(row['iqm'])} {iqm(row['other_iqm'])} "
                     f"{iqm(row['difference'])} {row['verdict']}")
    return "\n".join(lines)
