"""The course as a student sees it: JupyterLab in a real browser (headless Chromium via Playwright).

nbval proves that cells execute; these tests prove that the widgets *render*. Each test opens a
notebook in JupyterLab, runs all cells, waits for the drawings the notebook promises, and saves
screenshots under `test-artifacts/browser/`:

- every page is a 1,280 px window with JupyterLab's file browser open (a laptop), and no output
  area of the notebooks checked scrolls sideways (`check_fits`);
- `02_gumbel_search`: the search-tree stepper draws a tree; moving its simulation slider redraws it;
  every tree's root and chosen (green) edge are in the visible area and its node labels are at
  least 9 px high on the screen (`check_tree_in_view`, `check_tree_legible`);
- `04_train_cartpole`: the training dashboard's plotly charts draw their curves, its frame of the
  environment is a picture (pixels not all alike), and after the page is reloaded the charts are
  drawn again with their data;
- `05_continuous_control`: the same dashboard for Pendulum, with its search tree in view;
- `04`, `05` and `06`'s shipped agents: the episode's inline video loads (the browser decodes it),
  the episode player draws the frame, the root, the tree and the values, and moving its step slider
  changes the frame and the tree, whose labels can be read; in 04 the player's value chart says what
  the text says (v(s) sits close to the return that followed, which the recording does not cut short);
- `08_ablations`: the main figure draws each arm's IQM as a dot with its interval as an error bar;
- a deliberately broken tree view (its front-end redraw throws) must make the slider check fail,
  a deliberately fixed 1,400 px wide output must make the layout check fail, and a tree of 16
  root children fitted into 400 px must make the legibility check fail.

JupyterLab is started on a free localhost port with a random token, in a copy of `notebooks/`, and
is shut down with its kernels whatever happens; the last check is that no process is left behind.
`scripts/test.sh` installs Chromium and Playwright and sets EZV2_REQUIRE_BROWSER=1, so there a
missing browser is a failure; elsewhere these tests are skipped with the command that enables them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RUN_ALL_TIMEOUT_S = 600
WINDOW = {"width": 1280, "height": 900}
"""A laptop's browser window; the notebook shares it with JupyterLab's file browser."""


def _chromium() -> str | None:
    for name in (os.environ.get("EZV2_CHROMIUM", ""), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _require_browser() -> str:
    """The Chromium executable, or skip (fail under scripts/test.sh) with what to install."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[browser]')")
    chromium = _chromium()
    if chromium is None:
        missing.append("Chromium (apt-get install chromium)")
    if missing:
        message = "browser tests need " + " and ".join(missing) + "; scripts/test.sh installs both"
        if os.environ.get("EZV2_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return chromium


class JupyterLab:
    """A JupyterLab server on localhost serving `root`, with its kernels; `stop()` ends them all."""

    def __init__(self, root: Path, scratch: Path, port: int, fast: bool = True):
        import psutil

        self.port, self.token = port, secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        env = {name: value for name, value in os.environ.items() if name != "EZV2_FAST"}
        env.update(
            {"EZV2_FAST": "1"} if fast else {},  # the course's fast setting, or its full one
            JUPYTER_CONFIG_DIR=str(scratch / "config"),
            JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(scratch / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
        )
        # No "get Jupyter news?" prompt over the screenshots.
        labconfig = scratch / "config" / "labconfig"
        labconfig.mkdir(parents=True)
        (labconfig / "page_config.json").write_text(
            json.dumps(
                {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
            )
        )
        self.log_path = scratch / "jupyterlab.log"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--no-browser",
                "--allow-root",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={root}",
                "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run cells, read kernel state
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.server = psutil.Process(self.process.pid)
        self.seen: dict[int, psutil.Process] = {self.process.pid: self.server}
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited at start:\n{self.log_path.read_text()[-3000:]}"
                )
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2)
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"JupyterLab did not answer within 120 s:\n{self.log_path.read_text()[-3000:]}"
                    ) from None
                time.sleep(0.5)

    def notebook_url(self, name: str) -> str:
        """The notebook alone in a workspace of its own (so Lab does not restore other tabs)."""
        workspace = Path(name).stem.replace("_", "-")
        return f"{self.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={self.token}"

    def remember_children(self) -> None:
        """Note the server's kernels (they run in sessions of their own, so a group kill misses them)."""
        try:
            for child in self.server.children(recursive=True):
                self.seen.setdefault(child.pid, child)
        except Exception:
            pass

    def stop(self) -> list[str]:
        """Shut the server and its kernels down; return the processes that had to be killed."""
        import psutil

        self.remember_children()
        try:  # the clean way: the server shuts its kernels down, then itself
            request = urllib.request.Request(
                f"{self.url}/api/shutdown?token={self.token}", method="POST"
            )
            urllib.request.urlopen(request, timeout=10)
        except OSError:
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(list(self.seen.values()), timeout=15)
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        return [
            f"{p.pid} ({' '.join(p.cmdline()[:3]) if p.is_running() else 'gone'})" for p in alive
        ]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, free_port):
    """JupyterLab serving a scratch copy of notebooks/ (running cells never touches the repo)."""
    _require_browser()
    import psutil

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "notebooks", root, dirs_exist_ok=True)
    server = JupyterLab(root, tmp_path_factory.mktemp("jupyter"), free_port())
    server.root = root
    try:
        yield server
    finally:
        killed = server.stop()
        left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
        for p in left:
            p.kill()
        assert not killed, f"JupyterLab left processes that had to be killed: {killed}"
        assert not left, (
            f"processes left behind by the browser tests: {[p.cmdline()[:3] for p in left]}"
        )


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class NotebookPage:
    """One notebook open in JupyterLab, with the front-end errors seen while it ran."""

    def __init__(self, browser, lab: JupyterLab, name: str):
        self.name, self.lab = name, lab
        self.page = browser.new_page(viewport=WINDOW)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        self.page.on(
            "console",
            lambda m: self.errors.append(f"console.error: {m.text}") if m.type == "error" else None,
        )
        self.page.goto(lab.notebook_url(name))
        self.wait_until_open()

    def wait_until_open(self) -> None:
        """The notebook is shown, its kernel idle, the file browser open beside it (as a student has it)."""
        self.page.wait_for_selector(".jp-Notebook", timeout=120_000)
        self.page.wait_for_function(
            "() => { const w = window.jupyterapp.shell.currentWidget;"
            " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
            " return k && k.status === 'idle'; }",
            timeout=120_000,
        )
        self.page.evaluate("() => window.jupyterapp.shell.activateById('filebrowser')")

    def save_and_reload(self) -> None:
        """Save the notebook (as JupyterLab's autosave would) and reload the page; the kernel runs on."""
        self.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        self.page.wait_for_function(
            "() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000
        )
        self.page.reload()
        self.wait_until_open()

    def run_all(self) -> None:
        """Run every cell as Run ▸ Run All Cells does; fail with the traceback if a cell raised."""
        ok = self.page.evaluate(
            """(ms) => Promise.race([
                   window.jupyterapp.commands.execute('notebook:run-all-cells'),
                   new Promise((_, reject) => setTimeout(() => reject(new Error('run-all timed out')), ms))])""",
            RUN_ALL_TIMEOUT_S * 1000,
        )
        self.lab.remember_children()
        if not ok:
            errors = self.page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            )
            text = errors.last.inner_text()[-2000:] if errors.count() else "(no error output found)"
            raise AssertionError(f"{self.name}: a cell raised in JupyterLab:\n{text}")

    def screenshot(self, stem: str, locator=None) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{stem}.png"
        (locator or self.page).screenshot(path=str(path))
        return path

    def close(self) -> None:
        """Shut this notebook's kernel down and close the tab."""
        self.page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        self.page.close()

    def assert_no_front_end_errors(self) -> None:
        assert not self.errors, f"{self.name}: front-end errors in the browser:\n" + "\n".join(
            self.errors[:10]
        )


def check_tree_stepper(notebook: NotebookPage, stem: str) -> tuple[Path, Path]:
    """The first tree stepper (a simulation slider above an SVG tree) draws, and redraws when the
    slider moves two simulations back. Returns the screenshots before and after the move."""
    page = notebook.page
    stepper = (
        page.locator(".widget-vbox", has=page.locator(".widget-slider"))
        .filter(has=page.locator("svg"))
        .first
    )
    stepper.wait_for(timeout=60_000)
    stepper.scroll_into_view_if_needed()
    drawing = stepper.locator("svg").first
    assert drawing.locator("g.node").count() >= 2, "the tree drawing has fewer than two nodes"
    readout = stepper.locator(".widget-readout")
    # the slider's number is filled in just after it renders
    page.wait_for_function(
        "el => /^[0-9]+$/.test(el.innerText.trim())", arg=readout.element_handle(), timeout=20_000
    )
    before_readout = readout.inner_text().strip()
    before_svg = drawing.inner_html()
    shot_before = notebook.screenshot(f"{stem}-tree-before", stepper)

    stepper.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expected = str(int(before_readout) - 2)
    page.wait_for_function(
        "([el, v]) => el.innerText.trim() === v",
        arg=[readout.element_handle(), expected],
        timeout=20_000,
    )
    deadline = time.monotonic() + 20
    while stepper.locator("svg").first.inner_html() == before_svg:
        if time.monotonic() > deadline:
            notebook.screenshot(f"{stem}-tree-not-redrawn", stepper)
            raise AssertionError(
                f"{notebook.name}: the slider moved {before_readout} -> {expected} "
                "but the tree drawing did not change"
                + (":\n" + "\n".join(notebook.errors[:5]) if notebook.errors else "")
            )
        time.sleep(0.2)
    shot_after = notebook.screenshot(f"{stem}-tree-after", stepper)
    notebook.assert_no_front_end_errors()
    return shot_before, shot_after


OVERFLOWING_OUTPUTS = """() => [...document.querySelectorAll('.jp-OutputArea-output')]
    .filter(o => o.scrollWidth > o.clientWidth + 1)
    .map(o => `an output ${o.scrollWidth} px wide in a ${o.clientWidth} px area of cell `
              + `${[...document.querySelectorAll('.jp-Notebook .jp-Cell')].indexOf(o.closest('.jp-Cell'))}`
              + `${o.closest('.widget-output') ? ' (inside an Output widget)' : ''}, beginning `
              + JSON.stringify((o.innerText || o.querySelector('svg, img, canvas')?.tagName || '').slice(0, 60)))"""


def check_fits(notebook: NotebookPage) -> None:
    """No output area scrolls sideways: everything fits the width the window leaves it."""
    overflowing = notebook.page.evaluate(OVERFLOWING_OUTPUTS)
    if overflowing:
        notebook.screenshot(f"{Path(notebook.name).stem}-does-not-fit")
        raise AssertionError(
            f"{notebook.name}: {len(overflowing)} output area(s) scroll sideways in a "
            f"{WINDOW['width']} px window with the file browser open:\n" + "\n".join(overflowing)
        )


CLIPPED_BY = """el => {  // the first box with hidden, scrolled or clipped overflow that cuts `el` off
    const r = el.getBoundingClientRect();
    for (let a = el.parentElement; a && !a.classList.contains('jp-WindowedPanel-outer'); a = a.parentElement) {
        const style = getComputedStyle(a);
        if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
        const b = a.getBoundingClientRect();
        if (r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1 || r.bottom > b.bottom + 1)
            return `${a.className || a.tagName} (${b.width|0} x ${b.height|0} px) cuts off a box at `
                   + `x ${r.left - b.left|0}..${r.right - b.left|0}, y ${r.top - b.top|0}..${r.bottom - b.top|0}`;
    }
    return null;
}"""


SMALLEST_LEGIBLE_PX = 9
"""The smallest height on the screen, in CSS px, at which a tree's labels can still be read."""

LABEL_HEIGHTS = """svg => [...svg.querySelectorAll('g.node text, g.edge text')].map(t => {  // on-screen sizes, px
    const m = t.getScreenCTM();  // user units to screen px: the viewBox's scale and any transform
    return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
})"""


def check_tree_in_view(notebook: NotebookPage, drawing, what: str) -> None:
    """The tree's root node and its chosen (green) edge are drawn inside the visible area, and its
    node labels are large enough to read (a tree fitted to a narrow width can shrink them)."""
    root = drawing.locator(
        "g.node", has=notebook.page.locator("title", has_text=re.compile("^n0$"))
    ).first
    chosen = drawing.locator("g.edge", has=notebook.page.locator("path[stroke='#188038']")).first
    for name, element in (("root", root), ("chosen edge", chosen)):
        assert element.count() == 1, f"{notebook.name}: {what} has no {name}"
        clipped = element.evaluate(CLIPPED_BY)
        assert clipped is None, f"{notebook.name}: {what}'s {name} is out of view: {clipped}"
    check_tree_legible(notebook, drawing, what)


def check_tree_legible(notebook: NotebookPage, drawing, what: str) -> None:
    """Every label of the tree, on its nodes and edges, is drawn at least `SMALLEST_LEGIBLE_PX` high
    on the screen."""
    heights = drawing.evaluate(LABEL_HEIGHTS)
    assert heights, f"{notebook.name}: {what} has no node labels"
    assert min(heights) >= SMALLEST_LEGIBLE_PX, (
        f"{notebook.name}: {what}'s labels are drawn as small as {min(heights):.1f} px on the screen; "
        f"below {SMALLEST_LEGIBLE_PX} px they cannot be read"
    )


def check_charts_have_data(notebook: NotebookPage, at_least: int, when: str) -> None:
    """At least `at_least` plotly curves are drawn with points, in charts that take room on the page.
    Each curve is an SVG path whose `d` attribute holds the plotted points: a chart whose front end
    failed has no such path, one that never received data an empty one, and one drawn into a box
    of no height (as a reloaded page once drew them) is less than 100 px tall."""
    try:
        notebook.page.wait_for_function(
            "n => [...document.querySelectorAll('.js-plotly-plot .scatterlayer path.js-line')]"
            ".filter(p => (p.getAttribute('d') || '').length > 20"
            " && p.closest('.js-plotly-plot').getBoundingClientRect().height >= 100).length >= n",
            arg=at_least,
            timeout=60_000,
        )
    except Exception:
        notebook.screenshot(f"{Path(notebook.name).stem}-charts-empty-{when}")
        raise AssertionError(
            f"{notebook.name}: fewer than {at_least} charted curves with data {when}"
        ) from None


def check_frame_is_a_picture(notebook: NotebookPage, dashboard, stem: str) -> None:
    """The dashboard's frame of the environment is an image whose pixels are not all alike."""
    import io

    import numpy as np
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    frame = dashboard.locator("img.ezv2-frame").first
    frame.wait_for(timeout=30_000)
    frame.scroll_into_view_if_needed()
    pixels = np.asarray(
        Image.open(io.BytesIO(frame.screenshot(path=str(ARTIFACTS / f"{stem}-frame.png")))).convert(
            "L"
        ),
        dtype=float,
    )
    assert pixels.size > 100 * 100 and pixels.std() > 5, (
        f"{notebook.name}: the frame is {pixels.shape} px with pixel std {pixels.std():.1f}: not a picture"
    )


def test_tree_widget_renders_and_follows_its_slider(lab, browser):
    notebook = NotebookPage(browser, lab, "02_gumbel_search.ipynb")
    notebook.run_all()
    check_fits(notebook)
    check_tree_stepper(notebook, "02_gumbel_search")
    page = notebook.page
    first = (
        page.locator(".widget-vbox", has=page.locator(".widget-slider"))
        .filter(has=page.locator("svg"))
        .first
    )
    first.locator(
        ".noUi-handle"
    ).focus()  # back to the last simulation, where the chosen edge is drawn
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    first.locator("path[stroke='#188038']").first.wait_for(timeout=20_000)
    steppers = page.locator(".widget-vbox", has=page.locator(".widget-slider")).filter(
        has=page.locator("svg")
    )
    trees = [steppers.nth(i).locator("svg").first for i in range(steppers.count())]
    assert len(trees) >= 3, (
        f"02: expected the bandit, CartPole and Pendulum trees, saw {len(trees)}"
    )
    for i, tree in enumerate(trees):
        tree.scroll_into_view_if_needed()
        check_tree_in_view(notebook, tree, f"tree {i + 1}")
        notebook.screenshot(f"02_gumbel_search-tree-{i + 1}", tree)
    plots = page.locator(".js-plotly-plot .main-svg")
    assert plots.count() >= 1, "02: the root-policy plotly chart did not render"
    notebook.screenshot("02_gumbel_search-page")
    notebook.assert_no_front_end_errors()
    notebook.close()


def check_dashboard(notebook: NotebookPage, stem: str):
    """The training dashboard fits, draws its charts, shows the environment as a picture and its
    search tree in view; after a reload of the page its charts come back with their data."""
    page = notebook.page
    charts = page.locator(".js-plotly-plot")
    charts.first.wait_for(timeout=60_000)
    assert charts.count() >= 2, (
        f"{notebook.name}: expected the dashboard's return and loss charts, saw {charts.count()}"
    )
    check_charts_have_data(notebook, 2, "after training")
    check_fits(notebook)
    dashboard = page.locator(".widget-vbox", has=charts.first).first
    check_frame_is_a_picture(notebook, dashboard, stem)
    tree = dashboard.locator("svg", has=page.locator("g.node")).first
    tree.scroll_into_view_if_needed()
    check_tree_in_view(notebook, tree, "the dashboard's tree")
    notebook.screenshot(f"{stem}-dashboard-tree")  # the window, scrolled to the tree
    charts.first.scroll_into_view_if_needed()
    notebook.screenshot(f"{stem}-dashboard")
    notebook.save_and_reload()
    check_charts_have_data(notebook, 2, "after the page was reloaded")
    check_fits(notebook)
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    notebook.screenshot(f"{stem}-dashboard-after-reload")


def check_episode_video(notebook: NotebookPage, stem: str, nth: int = 0) -> Path:
    """The notebook's `nth` inline video of a shipped agent's episode loads in the browser: its
    metadata is read (the browser decodes the MP4), it has a picture size and lasts more than a second."""
    page = notebook.page
    video = page.locator(".jp-OutputArea-output video").nth(nth)
    video.wait_for(timeout=60_000)
    video.scroll_into_view_if_needed()
    try:
        page.wait_for_function(
            "v => v.readyState >= 1 && v.videoWidth > 0 && v.duration > 1",
            arg=video.element_handle(),
            timeout=30_000,
        )
    except Exception:
        notebook.screenshot(f"{stem}-video-not-loaded")
        state = video.evaluate(
            "v => ({ready: v.readyState, width: v.videoWidth, error: v.error && v.error.code})"
        )
        raise AssertionError(f"{notebook.name}: the episode video did not load: {state}") from None
    return notebook.screenshot(f"{stem}-video", video)


def episode_player_at(page, nth: int):
    """The page's `nth` episode player: a box with a play button and a frame."""
    return (
        page.locator(".widget-vbox", has=page.locator(".widget-play"))
        .filter(has=page.locator("img"))
        .nth(nth)
    )


def check_episode_player(
    notebook: NotebookPage, stem: str, steps: int = 12, nth: int = 0
) -> tuple[Path, Path]:
    """The notebook's `nth` episode player of a shipped agent draws its frame, root chart, tree and
    value chart, and moving its step slider `steps` steps on changes the frame and the tree. Returns
    the screenshots before and after the move."""
    page = notebook.page
    player = episode_player_at(page, nth)
    player.wait_for(timeout=60_000)
    player.scroll_into_view_if_needed()
    frame, tree = (
        player.locator("img").first,
        player.locator("svg", has=page.locator("g.node")).first,
    )
    tree.wait_for(timeout=30_000)
    assert player.locator(".js-plotly-plot").count() >= 2, (
        f"{notebook.name}: the player's charts did not draw"
    )
    check_fits(notebook)
    check_tree_legible(notebook, tree, "the player's tree")
    before_frame, before_tree = frame.get_attribute("src"), tree.inner_html()
    shot_before = notebook.screenshot(f"{stem}-player-before", player)
    readout = player.locator(".widget-readout")
    player.locator(".noUi-handle").focus()
    for _ in range(steps):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, v]) => el.innerText.trim() === v",
        arg=[readout.element_handle(), str(steps)],
        timeout=20_000,
    )
    # The kernel draws each step the slider passed through, in turn: wait for the last one.
    deadline = time.monotonic() + 60
    while True:
        missing = [
            what
            for what, drawn in [
                (f"the caption of step {steps}", f"step {steps}:" in player.inner_text()),
                ("a new frame", frame.get_attribute("src") != before_frame),
                ("a new tree", tree.inner_html() != before_tree),
            ]
            if not drawn
        ]
        if not missing:
            break
        if time.monotonic() > deadline:
            notebook.screenshot(f"{stem}-player-not-redrawn", player)
            raise AssertionError(
                f"{notebook.name}: the step slider moved to {steps} but the player "
                f"did not draw {' and '.join(missing)}"
            )
        time.sleep(0.2)
    shot_after = notebook.screenshot(f"{stem}-player-after", player)
    return shot_before, shot_after


VALUE_CURVES = """player => {  // the player's value chart: {curve name: y values}, as plotly drew it
    const chart = [...player.querySelectorAll('.js-plotly-plot')]
        .find(g => JSON.stringify((g.layout || {}).title || '').includes('values along the episode'));
    // (_fullData: the curves as drawn, the numbers of a base64-encoded array decoded)
    return chart ? Object.fromEntries(chart._fullData.map(curve => [curve.name, Array.from(curve.y)])) : null;
}"""


def check_values_sit_close_to_the_return(
    notebook: NotebookPage, nth: int = 0, within: float = 0.1
) -> None:
    """Notebook 04's claim about its player's value chart, checked in the setting it ran in: the value
    network's v(s) sits close to the discounted return that followed (on average within `within` of
    it), and that return is not cut short where the recording of the fast setting ends."""
    import numpy as np

    page = notebook.page
    player = episode_player_at(page, nth)
    curves = player.evaluate(VALUE_CURVES)
    assert curves, f"{notebook.name}: the player has no chart titled 'values along the episode'"
    truth = np.array(
        next(y for name, y in curves.items() if name.startswith("discounted return that followed"))
    )
    predicted = np.array(curves["value network v(s)"])
    gap = np.abs(truth - predicted).mean() / np.abs(truth).mean()
    assert gap < within, (
        f"{notebook.name}: v(s) is {gap:.0%} away from the return that followed on average "
        f"(the text says they sit close); that return runs {truth[0]:.1f} ... {truth[-1]:.1f}"
    )
    assert truth.min() > 0.5 * truth.max(), (
        f"{notebook.name}: the return that followed falls from {truth.max():.1f} to {truth.min():.1f}: "
        "cut short where the recording ends"
    )


@pytest.mark.parametrize("name", ["04_train_cartpole.ipynb", "05_continuous_control.ipynb"])
def test_training_dashboard_fits_draws_and_survives_a_reload(lab, browser, name):
    notebook = NotebookPage(browser, lab, name)
    notebook.run_all()
    check_episode_video(notebook, Path(name).stem)
    check_episode_player(notebook, Path(name).stem)
    if name.startswith("04"):
        check_values_sit_close_to_the_return(notebook)
    if name.startswith("05"):  # the trained walker, after the pendulum
        check_episode_video(notebook, "05_continuous_control-walker", nth=1)
        check_episode_player(notebook, "05_continuous_control-walker", nth=1)
    check_dashboard(notebook, Path(name).stem)
    notebook.assert_no_front_end_errors()
    notebook.close()


def test_the_pixel_agents_episode_player_follows_its_slider(lab, browser):
    """Notebook 06's cell that opens the shipped pixel agent, run on its own (the notebook's
    training cells are checked by nbval)."""
    import nbformat

    source = next(
        c.source
        for c in nbformat.read(
            ROOT / "notebooks" / "06_learning_from_pixels.ipynb", as_version=4
        ).cells
        if "cartpole-balance-pixels" in c.source and c.cell_type == "code"
    )
    # (the notebook's first cell)
    setting = "from ezv2_lite.tools.course import course_setting\nsetting = course_setting()\n"
    notebook = one_cell_notebook(browser, lab, "pixel_agent.ipynb", setting + source)
    check_episode_video(notebook, "06_learning_from_pixels")
    check_episode_player(notebook, "06_learning_from_pixels")
    notebook.assert_no_front_end_errors()
    notebook.close()


def test_ablation_figure_draws_each_arm_with_its_interval(lab, browser):
    notebook = NotebookPage(browser, lab, "08_ablations.ipynb")
    notebook.run_all()
    check_fits(notebook)
    figure = notebook.page.locator(".js-plotly-plot").first
    figure.wait_for(timeout=60_000)
    figure.scroll_into_view_if_needed()
    dots, bars = (
        figure.locator(".scatterlayer .points path"),
        figure.locator(".errorbars .errorbar path"),
    )
    assert dots.count() >= 2 and bars.count() >= 2, (
        f"08: the main figure has {dots.count()} dots and {bars.count()} error bars, expected one of each per arm"
    )
    widths = [bar.bounding_box()["width"] for bar in bars.all()]
    assert max(widths) > 2, f"08: the intervals are drawn {widths} px wide"
    assert "verdict" in notebook.page.locator(".jp-OutputArea-output table").first.inner_text()
    notebook.screenshot("08_ablations-main-figure", figure)
    notebook.assert_no_front_end_errors()
    notebook.close()


FIXED_WIDTH_OUTPUT = """\
import ipywidgets as widgets
widgets.HBox([widgets.HTML("a dashboard laid out for a wide screen", layout=widgets.Layout(width="700px")),
              widgets.HTML("its second chart", layout=widgets.Layout(width="700px"))],
             layout=widgets.Layout(width="1400px"))
"""


def one_cell_notebook(browser, lab: JupyterLab, name: str, code: str) -> NotebookPage:
    """A notebook of one code cell, written into the course copy, opened and run."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, lab.root / name)
    notebook = NotebookPage(browser, lab, name)
    notebook.run_all()
    return notebook


def test_a_fixed_width_layout_fails_the_check(lab, browser):
    """The layout check is not vacuous: a 1,400 px wide dashboard in a laptop window must fail it."""
    notebook = one_cell_notebook(browser, lab, "fixed_width_layout.ipynb", FIXED_WIDTH_OUTPUT)
    notebook.page.locator(".widget-hbox").first.wait_for(timeout=30_000)
    with pytest.raises(AssertionError, match="scroll sideways") as failure:
        check_fits(notebook)
    assert re.search(r"an output 14\d\d px wide in a \d+ px area", str(failure.value)), str(
        failure.value
    )
    (ARTIFACTS / "fixed_width_layout-failure.txt").write_text(str(failure.value))
    notebook.close()


BROKEN_TREE_VIEW = '''\
import anywidget, ipywidgets as widgets, numpy as np, traitlets
from ezv2_lite.model.toy import BanditModel
from ezv2_lite.search import search
from ezv2_lite.presets import preset
from viz.tree import tree_graph

class BrokenTreeView(anywidget.AnyWidget):
    """Draws the tree it is given, but its front-end redraw raises: the kind of bug the test exists for."""
    _esm = """
    export default { render({ model, el }) {
        el.innerHTML = model.get("svg");
        model.on("change:svg", () => { throw new Error("BrokenTreeView: redraw failed"); });
    } };"""
    svg = traitlets.Unicode("").tag(sync=True)

bandit = BanditModel(rewards=np.array([0.2, 0.9, 0.1, 0.4]), prior_logits=np.zeros(4))
result = search(bandit, np.zeros((1, 1), np.float32), preset("cartpole"), mode="act",
                rng=np.random.default_rng(0), trace_root=0)
trace = result.trace
slider = widgets.IntSlider(value=trace.num_simulations, min=0, max=trace.num_simulations,
                           description="simulation", continuous_update=False)
view = BrokenTreeView(svg=tree_graph(trace, slider.value).pipe(format="svg").decode())
slider.observe(lambda change: setattr(view, "svg", tree_graph(trace, change["new"]).pipe(format="svg").decode()),
               names="value")
widgets.VBox([slider, view])
'''


SQUEEZED_TREE = """\
import re
import ipywidgets as widgets, numpy as np
from ezv2_lite.config import override
from ezv2_lite.presets import preset
from ezv2_lite.model.toy import BanditModel
from ezv2_lite.search import search
from viz.tree import tree_graph

bandit = BanditModel(rewards=np.linspace(0, 1, 16), prior_logits=np.zeros(16))
config = override(preset("cartpole"), search=dict(num_simulations=32, num_top_actions=16))
trace = search(bandit, np.zeros((1, 1), np.float32), config, mode="act", rng=np.random.default_rng(0),
               trace_root=0).trace
svg = tree_graph(trace, root_children=None).pipe(format="svg").decode()  # all 16 children, side by side
squeezed = re.sub(r'width="[0-9.]+pt" height="[0-9.]+pt"', 'width="100%"', svg, count=1)  # no floor
widgets.HTML(squeezed, layout=widgets.Layout(width="400px"))
"""


def test_a_squeezed_tree_fails_the_legibility_check(lab, browser):
    """The legibility check is not vacuous: 16 root children scaled into 400 px (as `fit_svg` would,
    without its floor) must fail it."""
    notebook = one_cell_notebook(browser, lab, "squeezed_tree.ipynb", SQUEEZED_TREE)
    drawing = notebook.page.locator(
        ".jp-OutputArea-output svg", has=notebook.page.locator("g.node")
    ).first
    drawing.wait_for(timeout=30_000)
    with pytest.raises(AssertionError, match="cannot be read") as failure:
        check_tree_in_view(notebook, drawing, "the squeezed tree")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "squeezed_tree-failure.txt").write_text(str(failure.value))
    notebook.close()


def test_a_broken_tree_view_fails_the_check(lab, browser):
    """The check above is not vacuous: a view whose front-end redraw throws must fail it."""
    notebook = one_cell_notebook(browser, lab, "broken_tree_view.ipynb", BROKEN_TREE_VIEW)
    with pytest.raises(AssertionError, match="did not change") as failure:
        check_tree_stepper(notebook, "broken_tree_view")
    assert "BrokenTreeView: redraw failed" in str(failure.value), str(failure.value)
    (ARTIFACTS / "broken_tree_view-failure.txt").write_text(str(failure.value))
    notebook.close()
