"""A newcomer's pass over the course: each notebook opened in JupyterLab in Chromium (a 1,280 px
window with the file browser open), run top to bottom as Run ▸ Run All Cells does, and a
screenshot taken of every cell that shows an output, for a person to look through (in a window
of the same width made 4,000 px tall, so that tall cells are not cut off).

    .venv/bin/python scripts/course_pass.py                    # every notebook, fast setting
    .venv/bin/python scripts/course_pass.py --full --only 03   # notebook 03 in the full setting
    .venv/bin/python scripts/course_pass.py --checkout ../old --out test-artifacts/course-pass-old

`--checkout DIR` runs the notebooks and the package of another checkout (a `git worktree` of an
older commit, say), for pictures of before and after a change. Writes OUT/<notebook>/cell-NN.png
and OUT/index.md, which lists per notebook the time Run All took, any error, and each screenshot
with the first line of its cell. Uses the browser tests' JupyterLab and page helpers, so it needs
what they need (`scripts/test.sh` installs Chromium and Playwright).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests import test_browser as lab_pages  # noqa: E402
from tests.conftest import pick_free_port  # noqa: E402


def first_line(cell) -> str:
    """The first non-empty line of a cell as the page shows it (its code, or its rendered heading)."""
    text = cell.locator(".jp-InputArea-editor, .jp-RenderedMarkdown").first.inner_text(
        timeout=5_000
    )
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:100]


def shoot_cells(notebook, folder: Path) -> list[tuple[str, str]]:
    """Screenshot every cell with an output; return (file name, first line of the cell) for each."""
    folder.mkdir(parents=True, exist_ok=True)
    # The same width; a window tall enough that a cell's screenshot is not cut at the window's foot.
    notebook.page.set_viewport_size({"width": lab_pages.WINDOW["width"], "height": 4000})
    cells = notebook.page.locator(".jp-Notebook .jp-Cell")
    shots = []
    for i in range(cells.count()):
        cell = cells.nth(i)
        cell.scroll_into_view_if_needed()
        if cell.locator(".jp-OutputArea-output").count() == 0:
            continue
        name = f"cell-{i:02d}.png"
        cell.screenshot(path=str(folder / name))
        shots.append((name, first_line(cell)))
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--full", action="store_true", help="the full setting (default: the fast one)"
    )
    parser.add_argument("--only", nargs="*", default=[], help="notebook name prefixes, e.g. 03 04")
    parser.add_argument(
        "--checkout", type=Path, default=ROOT, help="the checkout whose notebooks and package run"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "test-artifacts" / "course-pass")
    parser.add_argument(
        "--timeout-s", type=int, default=3600, help="the longest Run All may take, per notebook"
    )
    args = parser.parse_args()
    lab_pages._require_browser = lambda: None  # noqa: SLF001 (no pytest here: a missing browser raises below)
    if lab_pages._chromium() is None:
        sys.exit("no Chromium found: scripts/test.sh installs it (or set EZV2_CHROMIUM)")
    lab_pages.RUN_ALL_TIMEOUT_S = args.timeout_s
    checkout = args.checkout.resolve()
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(checkout), os.environ.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    names = sorted(
        p.name
        for p in (checkout / "notebooks").glob("*.ipynb")
        if not args.only or any(p.name.startswith(prefix) for prefix in args.only)
    )
    if not names:
        sys.exit(f"no notebooks in {checkout / 'notebooks'} match {args.only}")

    from playwright.sync_api import sync_playwright

    scratch = Path(tempfile.mkdtemp(prefix="course-pass-"))
    shutil.copytree(checkout / "notebooks", scratch / "course")
    setting = "full" if args.full else "fast"
    lines = [
        f"# Course pass: {setting} setting, {checkout} ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
    ]
    lab = lab_pages.JupyterLab(
        scratch / "course", scratch / "jupyter", pick_free_port(), fast=not args.full
    )
    # Every cell in the page (JupyterLab otherwise leaves cells far from view out of it, unshot).
    tracker = (
        scratch
        / "jupyter"
        / "settings"
        / "@jupyterlab"
        / "notebook-extension"
        / "tracker.jupyterlab-settings"
    )
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text('{"windowingMode": "none"}')
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=lab_pages._chromium(), args=lab_pages.CHROMIUM_ARGS
            )
            for name in names:
                print(f"{name}: running all cells ({setting} setting) ...", flush=True)
                start = time.monotonic()
                notebook = lab_pages.NotebookPage(browser, lab, name)
                error = ""
                try:
                    notebook.run_all()
                except AssertionError as raised:
                    error = str(raised)
                took = time.monotonic() - start
                shots = shoot_cells(notebook, args.out / Path(name).stem)
                lines += [f"## {name}: Run All took {took:.0f} s", ""]
                lines += [f"- error: {error}"] if error else []
                lines += (
                    [f"- front-end errors: {'; '.join(notebook.errors[:5])}"]
                    if notebook.errors
                    else []
                )
                lines += [
                    f"- [{shot}]({Path(name).stem}/{shot}): `{text}`" for shot, text in shots
                ] + [""]
                print(
                    f"{name}: {took:.0f} s, {len(shots)} screenshots{', ERROR' if error else ''}",
                    flush=True,
                )
                notebook.close()
            browser.close()
    finally:
        lab.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "index.md").write_text("\n".join(lines))
    print(args.out / "index.md")


if __name__ == "__main__":
    main()
