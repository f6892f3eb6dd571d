"""The course's setting: the fast setting wins, then a CUDA GPU, then the CPU (ezv2_lite/tools/course.py)."""

import torch

from ezv2_lite.tools.course import CourseSetting, course_setting


def test_budget_prefers_fast_then_gpu_then_cpu():
    budgets = dict(fast=1, cpu=10, gpu=100)
    assert CourseSetting(torch.device("cpu"), fast=True).budget(**budgets) == 1
    assert CourseSetting(torch.device("cuda"), fast=True).budget(**budgets) == 1
    assert CourseSetting(torch.device("cuda"), fast=False).budget(**budgets) == 100
    assert CourseSetting(torch.device("cpu"), fast=False).budget(**budgets) == 10
    # gpu defaults to cpu
    assert CourseSetting(torch.device("cuda"), fast=False).budget(fast=1, cpu=10) == 10
    assert [
        CourseSetting(torch.device(d), f).kind
        for d, f in [("cpu", True), ("cuda", False), ("cpu", False)]
    ] == ["fast", "gpu", "cpu"]


def test_course_setting_reads_the_fast_variable_and_the_device(monkeypatch):
    monkeypatch.setenv("EZV2_FAST", "1")
    setting = course_setting()
    assert setting.fast and setting.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert "budgets: fast (EZV2_FAST=1)" in str(setting)
    monkeypatch.setenv("EZV2_FAST", "0")
    assert not course_setting().fast
    if not torch.cuda.is_available():
        assert str(course_setting()).startswith("device: cpu") and "full, sized for the CPU" in str(
            course_setting()
        )


def test_every_long_cell_says_how_long_it_takes_and_shows_its_progress():
    """Above every cell that trains, shows a progress bar or was measured at 10 s or more, a line
    gives the times measured in benchmarks/results/notebooks.json; the cell itself shows progress
    (the training dashboard, train's own progress bar, a tqdm bar, a sweep's line per run, or the
    evaluation bar of `record_episode`)."""
    import json

    import nbformat

    from benchmarks.notebook_times import RESULTS, expected_time_line, is_long, notebook_paths

    results = json.loads(RESULTS.read_text())
    measured = results["notebooks"]
    long_cells = 0
    for path in notebook_paths():
        notebook, entry = nbformat.read(path, as_version=4), measured.get(path.stem, {})
        assert entry, f"{path.name} has no measured times: run benchmarks/notebook_times.py"
        for index, cell in enumerate(notebook.cells):
            if not is_long(cell, entry):
                continue
            long_cells += 1
            where = f"{path.name}, cell {index} ({cell.id})"
            above = notebook.cells[index - 1]
            line = expected_time_line(entry, cell, results["machine"])
            assert above.cell_type == "markdown" and line in above.source, (
                f"{where}: the line above does not give the measured time; "
                "run `python benchmarks/notebook_times.py --write-expected-times`"
            )
            source = cell.source
            # (a sweep: a line per run)
            shows_progress = (
                "tqdm(" in source
                or "sweep(" in source
                or "record_episode(" in source
                or (
                    "train(" in source
                    and ("progress=False" not in source or "observers=[dashboard]" in source)
                )
            )
            assert shows_progress, f"{where}: a long cell without a progress bar or the dashboard"
    assert long_cells >= 8  # the training cells of 03-06 and of the solutions, at least


def test_every_link_in_the_notebooks_opens_a_file_of_the_repository():
    """The notebooks run in course/, a copy of notebooks/ beside docs/, ezv2_lite/ and benchmarks/:
    each relative link of their text (docs/algorithm.md, a benchmark's results, a test) names a
    file or folder that is there, so that JupyterLab opens it."""
    import re

    import nbformat

    from benchmarks.notebook_times import notebook_paths

    links = 0
    for path in notebook_paths():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for target in re.findall(r"\]\(([^)\s]+)\)", cell.source):
                if re.match(r"[a-z]+:", target) or target.startswith("#"):
                    continue  # a web address or an anchor
                links += 1
                assert (path.parent / target.split("#")[0]).exists(), (
                    f"{path.name}: {target} does not exist"
                )
    assert links >= 40
