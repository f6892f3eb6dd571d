"""The ablation lab's verdicts (ezv2_lite/tools/ablations.py) on arms whose answer is known by construction."""

import json

import numpy as np
import pytest

pytest.importorskip("rliable", reason="the cluster extra: pip install -e '.[cluster]'")

from ezv2_lite.config import override, to_json  # noqa: E402
from ezv2_lite.presets import preset
from ezv2_lite.tools.ablations import Comparison, Question, answer, answers_table, compare  # noqa: E402


def test_a_clear_gain_is_supported_and_its_reverse_or_a_tie_is_not():
    low, high = np.array([100.0, 110, 120, 130, 140]), np.array([400.0, 410, 420, 430, 440])
    gain = compare(high, low, "better")
    assert gain["verdict"] == "supported"
    assert gain["difference"][0] == pytest.approx(300.0)  # IQM 420 - IQM 120
    assert gain["probability_of_improvement"] == 1.0
    assert compare(low, high, "better")["verdict"] == "not supported"
    ceiling = np.full(5, 500.0)  # both arms solve CartPole on every seed: no gain to see
    assert compare(ceiling, ceiling, "better")["verdict"] == "not supported"


def test_overlapping_arms_are_not_resolved():
    rng = np.random.default_rng(0)
    a, b = rng.normal(300, 100, 5), rng.normal(290, 100, 5)
    assert compare(a, b, "better")["verdict"] == "not resolved at this scale"


def test_no_worse_is_judged_against_the_margin():
    base = np.array([480.0, 490, 500, 500, 500])
    assert compare(base - 10, base, "no worse", margin=50)["verdict"] == "supported"
    assert compare(base - 200, base, "no worse", margin=50)["verdict"] == "not supported"


def fake_ablation(root, finals, unfinished=()):
    """Finished cartpole runs (an evaluation at the 10,000-env-step budget) with these final returns
    per arm; the arms in `unfinished` get one more run, stopped at 4,000 env steps."""
    runs = []
    for arm, scores in finals.items():
        for seed, final in enumerate(list(scores) + ([0.0] if arm in unfinished else [])):
            name = f"cartpole-{arm}-seed{seed}"
            runs.append({"name": name, "arm": arm})
            (root / name).mkdir(parents=True)
            (root / name / "config.json").write_text(
                to_json(override(preset("cartpole"), seed=seed))
            )
            steps = 4000 if seed == len(scores) else 10_000
            rows = [{"env_steps": steps, "train_steps": 2 * steps, "eval_return_mean": final}]
            (root / name / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "sweep.json").write_text(json.dumps({"runs": runs}))


def test_each_question_is_answered_where_the_sweep_has_both_arms_from_finished_runs(tmp_path):
    fake_ablation(
        tmp_path,
        {
            "default": [500, 500, 480, 490, 500],
            "td": [150, 200, 180, 170, 210],
            "sims_2": [470, 500, 480, 460, 500],
        },
        unfinished=("td",),
    )
    questions = (
        Question(
            "value target", "...", (Comparison("default", "td"), Comparison("default", "sve"))
        ),
        Question("simulations", "...", (Comparison("sims_2", "default", "no worse"),)),
    )
    rows = answer(tmp_path, questions)
    # no "sve" arm: skipped
    assert [(r["question"], r["arm"], r["other"]) for r in rows] == [
        ("value target", "default", "td"),
        ("simulations", "sims_2", "default"),
    ]
    assert [r["verdict"] for r in rows] == ["supported", "supported"]
    # a tenth of what the default arm learned above a random policy (about 22 on CartPole)
    assert 0.1 * (496.7 - 30) < rows[1]["margin"] < 0.1 * (496.7 - 15)
    assert rows[0]["task"] == "cartpole · CartPole-v1"
    # td's run at 4,000 env steps
    assert rows[0]["runs"] == (5, 5) and rows[0]["left_out"] == (
        0,
        1,
    )
    table = answers_table(rows)
    assert (
        "default > td" in table
        and "sims_2 ≥ default − 4" in table
        and table.count("supported") == 2
    )
    assert "1 unfinished left out" in table


def test_one_or_two_runs_an_arm_get_no_verdict():
    assert (
        compare(np.array([101.0, 102]), np.array([100.0, 99]), "better")["verdict"]
        == "too few runs"
    )


def test_the_status_of_an_unfinished_ablation_names_the_runs_each_arm_still_needs(tmp_path):
    from ezv2_lite.tools.ablations import MIN_RUNS, verdict_status

    fake_ablation(
        tmp_path, {"default": [500, 500, 480, 490, 500], "td": [150], "sims_2": [470, 500, 480]}
    )
    questions = (
        Question("value target", "...", (Comparison("default", "td"),)),
        Question("simulations", "...", (Comparison("sims_2", "default", "no worse"),)),
        Question("priorities", "...", (Comparison("default", "uniform"),)),
    )
    status = verdict_status(answer(tmp_path, questions), questions).replace(
        "\N{NO-BREAK SPACE}", " "
    )
    lines = status.splitlines()
    assert lines[0] == "1 of 2 comparisons have a verdict."  # sims_2 has 3 runs, td only 1
    assert lines[2] == f"  cartpole · CartPole-v1: td {MIN_RUNS - 1} more"
    assert lines[3] == "No finished runs of both arms of any comparison yet: priorities."
