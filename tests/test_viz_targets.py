"""The value-target and priority views on small fixed inputs."""

import numpy as np

from viz.targets import priorities_figure, value_targets_figure


def test_value_targets_figure_has_one_trace_per_target_and_marks_the_choice():
    age = np.array([10, 500, 3000])
    fig = value_targets_figure(
        age,
        td=np.array([1.0, 2.0, 3.0]),
        sve=np.array([1.5, 2.5, 2.0]),
        use_td=np.array([True, True, False]),
        window=2000,
    )
    td, sve = fig.data
    assert td.name == "n-step TD target" and sve.name == "search-based value estimate"
    np.testing.assert_array_equal(td.x, age)
    np.testing.assert_array_equal(sve.y, [1.5, 2.5, 2.0])
    assert list(td.marker.line.color) == ["black", "black", "rgba(0,0,0,0)"]
    assert list(sve.marker.line.color) == ["rgba(0,0,0,0)", "rgba(0,0,0,0)", "black"]
    assert fig.layout.shapes[0].x0 == 2000


def test_priorities_figure_shows_the_histogram_and_the_max_rule():
    fig = priorities_figure(np.array([0.1, 0.2, 0.2, 3.0]), running_max=3.0)
    assert fig.data[0].type == "histogram" and len(fig.data[0].x) == 4
    assert fig.layout.shapes[0].x0 == 3.0
