"""The project's promises about itself: the README's two commands, environment.yml, layering."""

import re
import tomllib
from pathlib import Path

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
    assert "notebooks/00_start_here.ipynb" in (ROOT / "scripts/course.sh").read_text()
    test_script = (ROOT / "scripts/test.sh").read_text()
    assert "--nbval-lax notebooks" in test_script and "pytest tests" in test_script
    assert "scripts/test.sh" in (ROOT / ".ci/run").read_text()


def test_environment_yml_installs_the_same_package_and_extras():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    setup = (ROOT / "scripts/setup.sh").read_text()
    extras = re.search(r'extras="([a-z,]+)"', setup).group(1)   # + ",browser" with EZV2_BROWSER=1
    assert 'extras+=",browser"' in setup and '-e ".[$extras]"' in setup
    assert pip == [f"-e .[{extras},browser]"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(extras.split(",")) | {"browser"} == set(project["optional-dependencies"])
    assert any(dep.startswith("mujoco") and "<4" in dep for dep in project["dependencies"])


def test_the_implementation_never_imports_jupyter_or_the_viz_layer():
    pattern = re.compile(r"^\s*(import|from)\s+(IPython|ipywidgets|plotly|graphviz|viz|notebook)\b",
                         re.MULTILINE)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "ezv2_lite").rglob("*.py")
                 if pattern.search(p.read_text())]
    assert offenders == []


def test_the_course_command_starts_jupyterlab_on_the_first_notebook(free_port):
    import os
    import signal
    import subprocess
    import time

    port = free_port()
    process = subprocess.Popen(["bash", "scripts/course.sh", "--no-browser", f"--port={port}",
                                "--ServerApp.ip=127.0.0.1"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
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
