"""ezv2-lite: a readable, tested EfficientZero V2 (Wang et al., ICML 2024).

The package is organised one concept per module (see DESIGN.md):
`config`, `envs`, `model`, `search`, `replay`, `targets`, `learner`, `actor`,
`train`, `evaluate`, `checkpoint`, `cli`. It never imports Jupyter; the `viz`
package and the notebooks sit on top of it.
"""

__version__ = "0.1.0"

FAST_ENV_VAR = "EZV2_FAST"
"""Set to 1 to shrink training budgets in notebooks and examples (CI does); code paths are unchanged."""


def fast_mode() -> bool:
    """True when the EZV2_FAST environment variable asks for small budgets (CI, quick looks)."""
    import os

    return os.environ.get(FAST_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}
