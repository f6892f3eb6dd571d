"""Where a notebook of the course runs: its device, and the budgets it can afford there.

Every notebook starts with

    setting = course_setting()
    print(setting)                     # device: cpu (no CUDA GPU) · budgets: fast (EZV2_FAST=1)

and sizes its training runs with `setting.budget(fast=..., cpu=..., gpu=...)`: the fast setting
(the test suite) wins, then a CUDA GPU, then the CPU. Only numbers change between the three;
the code path never does, and the configs keep `device="auto"`, which `train` resolves the same way.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

from .. import FAST_ENV_VAR, fast_mode
from ..model import resolve_device

T = TypeVar("T")


@dataclass(frozen=True)
class CourseSetting:
    device: torch.device
    fast: bool

    @property
    def kind(self) -> str:
        """'fast', 'gpu' or 'cpu': which of a notebook's budgets applies."""
        return "fast" if self.fast else ("gpu" if self.device.type == "cuda" else "cpu")

    def budget(self, fast: T, cpu: T, gpu: T | None = None) -> T:
        """The budget for this setting; `gpu` defaults to the CPU budget."""
        if self.fast:
            return fast
        if self.device.type == "cuda" and gpu is not None:
            return gpu
        return cpu

    def __str__(self) -> str:
        if self.device.type == "cuda":
            where = f"cuda ({torch.cuda.get_device_name(self.device)})"
        else:
            where = f"cpu, {torch.get_num_threads()} threads (no CUDA GPU)"
        budgets = (
            f"fast ({FAST_ENV_VAR}=1)" if self.fast else f"full, sized for the {self.kind.upper()}"
        )
        return f"device: {where} · budgets: {budgets}"


def course_setting() -> CourseSetting:
    """The device PyTorch will use (CUDA when present) and whether the fast setting is on."""
    return CourseSetting(device=resolve_device("auto"), fast=fast_mode())


def repository_path(*parts: str) -> Path:
    """A path in the course's repository (e.g. its committed benchmark results), found from where
    the package lives, so that it is the same whichever folder a notebook runs in."""
    return Path(__file__).resolve().parents[2].joinpath(*parts)  # (ezv2_lite/tools/course.py)


def code_commit(package: Path | str | None = None) -> str | None:
    """The git commit of the code that runs (a worktree at a fixed commit for long runs), with
    "+changes" when its files differ from that commit; None outside a git checkout, unless the
    EZV2_CODE_COMMIT environment variable names it. `package`: another checkout's ezv2_lite
    folder instead of this one."""
    root = Path(package).resolve() if package is not None else Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "."],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):  # a copy without .git (a GPU machine's)
        return os.environ.get("EZV2_CODE_COMMIT")  # where its caller names the commit
    return commit + ("+changes" if dirty else "")
