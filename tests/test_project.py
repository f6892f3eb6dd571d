"""The project's promises about itself: the README's two commands, environment.yml, layering."""

import re
import subprocess
from pathlib import Path

import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    lines = (ROOT / "README.md").read_text().splitlines()
    block = []
    for line in lines[1:]:
        if line.startswith("    "):
            block.append(line.strip())
        elif block:
            break
    return block


def test_readme_starts_with_exactly_two_commands_that_exist():
    commands = readme_commands()
    assert len(commands) == 2
    course, tests = commands
    assert course.startswith("bash scripts/course.sh") and "JupyterLab" in course
    assert tests.startswith("bash scripts/test.sh") and "nbval" in tests
    for command in commands:
        assert (ROOT / command.split()[1]).is_file()
    course_script = (ROOT / "scripts/course.sh").read_text()
    # the course opens a working copy of notebooks/ in course/, which git ignores (outputs stay out)
    assert (
        "course/00_start_here.ipynb" in course_script
        and '"notebooks/$file" "course/$file"' in course_script
    )
    ignored = subprocess.run(
        [
            "git",
            "check-ignore",
            "course/00_start_here.ipynb",
            "benchmarks/results/sweeps/course/sweep.json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    # the copy only, not results named course
    assert ignored.stdout.split() == ["course/00_start_here.ipynb"]
    assert 'if [ "$arg" = --fast ]; then export EZV2_FAST=1' in course_script
    test_script = (ROOT / "scripts/test.sh").read_text()
    assert "--nbval-lax notebooks" in test_script and "pytest tests" in test_script
    assert "scripts/test.sh" in (ROOT / ".ci/run").read_text()


def test_environment_yml_installs_the_same_package_and_extras():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    setup = (ROOT / "scripts/setup.sh").read_text()
    extras = re.search(r'extras="([a-z,]+)"', setup).group(1)  # + browser, cluster with the tests
    assert (
        'extras+=",browser"' in setup
        and 'extras+=",cluster"' in setup
        and '-e ".[$extras]"' in setup
    )
    assert (
        "EZV2_BROWSER=1 EZV2_CLUSTER=1 bash scripts/setup.sh"
        in (ROOT / "scripts/test.sh").read_text()
    )
    assert pip == [f"-e .[{extras},browser,cluster]"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(extras.split(",")) | {"browser", "cluster"} == set(project["optional-dependencies"])
    assert any(dep.startswith("mujoco") and "<4" in dep for dep in project["dependencies"])


def test_the_implementation_never_imports_jupyter_or_the_viz_layer():
    pattern = re.compile(
        r"^\s*(import|from)\s+(IPython|ipywidgets|plotly|graphviz|viz|notebook)\b", re.MULTILINE
    )
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "ezv2_lite").rglob("*.py")
        if pattern.search(p.read_text())
    ]
    assert offenders == []


@pytest.mark.slow
def test_the_course_command_starts_jupyterlab_on_the_first_notebook(free_port):
    import os
    import signal
    import time

    port = free_port()
    process = subprocess.Popen(
        ["bash", "scripts/course.sh", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output, deadline = [], time.time() + 300
    try:
        while time.time() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if "is running at" in line:
                break
        assert any("is running at" in line for line in output), "".join(output[-20:])
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


# ------------------------------------------------------------------ references a student can follow

DANGLING = re.compile(
    r"Part [AB]\b|\.\./shared|shared/reference|platform-notes|DESIGN\.md|ezv2-algorithm"
    r"|(?<![&\w/])#\d{1,3}\b(?![0-9a-fA-F])|\bissue \d+|\bissues? #"
)
"""Pointers outside the repository (a design document, a shared folder, issue numbers)."""
GUIDE_SECTION = re.compile(r"docs/algorithm\.md ((?:§[\d.]*\d(?:, )?)+)")


def _course_texts() -> dict[str, str]:
    """Every file a user reads: the package, the visualisers, the notebooks, the tests, the
    benchmark and set-up scripts, the project's configuration and every Markdown file (not
    the benchmarks' recorded results)."""
    files = [
        p
        for pattern in (
            "ezv2_lite/**/*.py",
            "viz/**/*.py",
            "tests/**/*.py",
            "notebooks/**/*.ipynb",
            "benchmarks/*.py",
            "benchmarks/*.sh",
            "scripts/*",
            "*.py",
            "*.toml",
            ".pre-commit-config.yaml",
            "**/*.md",
        )
        for p in ROOT.glob(pattern)
        if ".venv" not in p.parts
        and "results" not in p.parts
        and p.name != "test_project.py"  # (it spells the patterns out)
    ]
    return {str(p.relative_to(ROOT)): p.read_text() for p in files}


def test_no_reference_points_outside_the_repository():
    found = [
        f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}"
        for name, text in _course_texts().items()
        for m in DANGLING.finditer(text)
    ]
    assert not found, "references a student cannot follow:\n" + "\n".join(found)


def test_the_dangling_reference_check_catches_each_kind():
    for text in (
        "see Part B §3",
        "(../shared/docs)",
        "platform-notes.md",
        "DESIGN.md",
        "the goal of #9",
        "(issue 12)",
        "ezv2-algorithm.md",
    ):
        assert DANGLING.search(text), text
    for text in (
        "color #1f77b4",
        "&#39;",
        "a comment # 3 apples",
        "docs/algorithm.md §3.2",
        "x[#]",
    ):
        assert not DANGLING.search(text), text


def test_every_cited_section_of_the_algorithm_guide_exists():
    guide = (ROOT / "docs" / "algorithm.md").read_text()
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", guide, flags=re.M))
    cited = {
        s.rstrip(".")
        for name, text in _course_texts().items()
        for m in GUIDE_SECTION.finditer(text)
        for s in re.findall(r"§([\d.]*\d)", m.group(1))
    }
    assert cited and cited <= sections, (
        f"cited but not in docs/algorithm.md: {sorted(cited - sections)}"
    )


LAYERS = [
    ("config", "progress"),
    ("presets",),
    ("envs", "model", "augment"),
    ("returns",),
    ("search", "replay", "replay_file"),
    ("targets",),
    ("learner", "actor", "evaluate", "checkpoint"),
    ("reanalysis_worker",),
    ("train",),
    ("accel",),
    ("tools",),
]
"""The package's modules from the bottom up: a module imports only from its own layer or
below (lazy imports inside functions included), so the ideas can be read in this order."""


def test_imports_flow_one_way_through_the_layers():
    rank = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    graph = _module_graph()

    def layer_of(module: str) -> str | None:  # ezv2_lite.search.gumbel -> search
        return module.split(".")[1] if "." in module else None

    named = {layer_of(module) for module in graph} - {None}
    assert named <= set(rank), f"modules missing from LAYERS: {sorted(named - set(rank))}"
    upward = [
        f"{module} imports {imported} (layer {rank[imported]} > {rank[own]})"
        for module, edges in sorted(graph.items())
        if (own := layer_of(module)) is not None
        for imported in sorted({layer_of(edge) for edge in edges} - {own, None})
        if rank[imported] > rank[own]
    ]
    assert not upward, "\n".join(upward)


def _module_graph() -> dict[str, set[str]]:
    """Every module of ezv2_lite (dotted, e.g. `ezv2_lite.tools.cli`) and the package modules it
    imports, lazy imports inside functions included; a subpackage importing its own package
    (`from . import x` in search/search.py) is not an edge."""
    import ast

    modules = {}
    for path in (ROOT / "ezv2_lite").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = (path, path.name == "__init__.py")
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rsplit(".", 1)[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")
                base = base[: len(base) - node.level + 1] if node.level else []
                stem = ".".join(base + ([node.module] if node.module else []))
                targets = [stem] + [f"{stem}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]  # `from .x import f` -> module .x
                if target and target != name and not name.startswith(target + "."):
                    edges.add(target)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles a depth-first walk of `graph` meets, each as a path a -> ... -> a."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == 1:
                cycles.append(path[path.index(imported) :] + [imported])
            elif imported not in state:
                visit(imported, path + [imported])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_the_package_has_no_import_cycles():
    cycles = _cycles(_module_graph())
    assert not cycles, "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_cycle_check_finds_a_planted_cycle_and_passes_a_chain():
    assert _cycles({"c": {"a"}, "a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]
    assert _cycles({"c": {"a"}, "a": {"b"}, "b": set()}) == []


def test_the_package_imports_nothing_from_the_checkout():
    """ezv2_lite installs alone: no import of benchmarks/, scripts/, tests/ or viz/."""
    import ast

    graph_roots = set()
    for path in (ROOT / "ezv2_lite").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                graph_roots |= {(a.name.split(".")[0], path.name) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                graph_roots.add((node.module.split(".")[0], path.name))
    found = [f"{file} imports {root}" for root, file in graph_roots]
    found = [f for f in found if f.split()[-1] in {"benchmarks", "scripts", "tests", "viz"}]
    assert not found, found


def _tool(*args: str) -> subprocess.CompletedProcess:
    import sys

    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_finds_nothing_and_the_tree_is_formatted():
    """The rules and the format of [tool.ruff] in pyproject.toml, over code, tests and notebooks."""
    for args in (("ruff", "check", "."), ("ruff", "format", "--check", ".")):
        run = _tool(*args)
        assert run.returncode == 0, f"{' '.join(args)}:\n{run.stdout}{run.stderr}"


@pytest.mark.slow
def test_the_package_type_checks():
    """mypy over ezv2_lite with [tool.mypy] of pyproject.toml (about a minute without its cache)."""
    run = _tool("mypy")
    assert run.returncode == 0, run.stdout + run.stderr
