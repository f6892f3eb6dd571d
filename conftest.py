"""Marks that split the suite into lanes (markers declared in pyproject.toml).

- `notebook`: every cell nbval runs;
- `browser`: tests/test_browser.py (JupyterLab in headless Chromium);
- `slow`: marked where the test is written.

scripts/test.sh runs the suite with pytest-xdist's `--dist loadscope`: a notebook's cells share
one kernel, and a test module shares its fixtures (one JupyterLab, one trained model), so each
notebook and each module runs on one worker, in its order.

The quick lane for development: pytest -m "not slow and not notebook and not browser".
"""

import os

import pytest

# Under pytest-xdist each worker gets its share of the cores (and so do the commands, kernels
# and servers it starts): two workers with a thread per core each would fight over them.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("OMP_NUM_THREADS", str(share))


# The longest units first, so that the two workers finish together instead of one waiting on
# the other's last long module (several minutes each on the 2-core CI machine).
LONGEST_FIRST = [
    "test_pixel_learning.py",
    "09_your_own_environment.ipynb",
    "test_browser.py",
    "test_train.py",
    "06_learning_from_pixels.ipynb",
    "test_sweep.py",
    "test_agents.py",
]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
        elif item.path.name == "test_browser.py":
            item.add_marker(pytest.mark.browser)
    # (a stable sort: each module's tests and each notebook's cells keep their order)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
