"""Marks that split the suite into lanes (markers declared in pyproject.toml).

- `notebook`: every cell nbval runs. A notebook's cells share one kernel, so they stay on one
  pytest-xdist worker (`--dist loadgroup`) in their order.
- `browser`: tests/test_browser.py, one JupyterLab and one Chromium for the whole module.
- `slow`: marked where the test is written (`pytestmark` or `@pytest.mark.slow`).

The quick lane for development: pytest -m "not slow and not notebook and not browser".
"""

import os

import pytest

# Under pytest-xdist each worker gets its share of the cores (and so do the commands, kernels
# and servers it starts): two workers with a thread per core each would fight over them.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    share = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("OMP_NUM_THREADS", str(share))

# Modules whose tests share an expensive module-scoped fixture: run each on one worker.
ONE_WORKER = {"test_browser.py", "test_agents.py", "test_viz_episode.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.path
        if path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
            item.add_marker(pytest.mark.xdist_group(f"notebook {path.name}"))
        elif path.name in ONE_WORKER:
            item.add_marker(pytest.mark.xdist_group(path.name))
        if path.name == "test_browser.py":
            item.add_marker(pytest.mark.browser)
