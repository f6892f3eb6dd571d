"""Draw the README's picture, docs/images/search-tree.png: one search of the shipped walker-stand
agent, as in self-play (`act` mode), from the first observation of an evaluation episode (seed 3),
with 40 simulations, as viz.tree draws it.

    .venv/bin/python scripts/readme_picture.py
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: ezv2_lite, viz
from ezv2_lite.config import override  # noqa: E402
from ezv2_lite.envs import make_env  # noqa: E402
from ezv2_lite.search import search  # noqa: E402
from ezv2_lite.tools.agents import load_agent  # noqa: E402
from viz.tree import tree_graph  # noqa: E402

agent = load_agent("walker-stand")
config = override(agent.config, search=dict(num_simulations=40))
observation, _ = make_env(config.env, "eval", 3).reset()
trace = search(
    agent.model, observation[None], config, "act", np.random.default_rng(1), trace_root=0
).trace
graph = tree_graph(trace)
graph.format = "png"
graph.attr(dpi="80")
print(
    graph.render(
        str(Path(__file__).resolve().parents[1] / "docs" / "images" / "search-tree"), cleanup=True
    )
)
