"""One real-browser run through the studio: Playwright driving Debian's chromium against `streamlit run app.py`.

Home -> Data (add the bundled demo corpus) -> Train (tiny local model, launch, watch the loss curve gain points,
Stop, Resume until FINISHED) -> Runs -> Evaluate (confusion matrix) -> Review (edit a span, reload, the edit is
kept) -> Playground (a highlighted entity). A full-page screenshot of every page goes to docs/screenshots/.

Needs /usr/bin/chromium (scripts/test.sh installs it with apt) and the playwright package (requirements-dev.txt);
`playwright install` is not used. The tiny BERT model is built in the test (tests/conftest.py), so the test runs
from a clean clone. Runtime: about 2 to 3 minutes on 2 CPU cores.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.ui.examples import EXAMPLES
from core.data.review import ReviewLog
from tests.conftest import build_tiny_model_dir

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Where the PNGs go: a temporary folder, unless NER_STUDIO_SCREENSHOTS names one (docs/screenshots to refresh the
# README's pictures), so that a test run never dirties the working tree.
SHOTS = Path(os.environ.get("NER_STUDIO_SCREENSHOTS") or Path(tempfile.gettempdir()) / "ner_studio_screenshots")
VIEWPORT = {"width": 1280, "height": 900}
MAX_SHOT_HEIGHT = 2700
REVIEWER = "browser-test"
# Long enough to watch the curve and press Stop; short enough to finish quickly after Resume.
# The tiny model's word embeddings are random, so the settings that suit a pretrained model (frozen embeddings,
# 10x head rate) leave it predicting only O: the head rate goes back to 1x and the rate up, as for a model
# trained from scratch.
TRAIN_SETTINGS = {"max_steps": 240, "eval_steps": 20, "eval_max_sentences": 100, "learning_rate": 0.0003,
                  "classifier_lr_multiplier": 1}

pytestmark = pytest.mark.slow


def _missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does it with apt-get as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: pip install -r requirements-dev.txt"
    return None


if (_reason := _missing()) is not None:
    if os.environ.get("NER_STUDIO_REQUIRE_BROWSER") == "1":  # .ci/run: the browser test must not be skipped
        raise RuntimeError(f"NER_STUDIO_REQUIRE_BROWSER=1 but {_reason}")
    pytest.skip(_reason, allow_module_level=True)

from playwright import sync_api  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

# Every expectation waits on a condition with a generous deadline (Playwright's default is 5 s): on a busy
# 2-core machine a plot can take longer than that to appear.
expect.set_options(timeout=60_000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer {url}/_stcore/health within {timeout:.0f} s")


def stop_workers(workspace: Path) -> None:
    """End the training workers the app started (they run in their own session), if any is still alive."""
    from core.runs.store import RunStore

    if not (workspace / "runs.sqlite").exists():
        return
    for run in RunStore(workspace).list_runs():
        if run.pid and run.active:
            try:
                os.killpg(run.pid, signal.SIGTERM)
            except OSError:
                pass


@contextlib.contextmanager
def serve(tmp_path: Path, **extra_env: str):
    """`streamlit run app.py` on a free port with a fresh workspace; yields (url, workspace)."""
    workspace = tmp_path / "ws"
    port = free_port()
    env = {**os.environ, "NER_STUDIO_WORKSPACE": str(workspace), "PYTHONUNBUFFERED": "1", **extra_env}
    log = open(tmp_path / "streamlit.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url, workspace
    finally:
        stop_workers(workspace)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def app_url(tmp_path):
    with serve(tmp_path) as served:
        yield served


@pytest.fixture
def page():
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT)
        pg = context.new_page()
        pg.set_default_timeout(60_000)  # generous: a busy 2-core machine renders slowly
        try:
            yield pg
        finally:
            browser.close()


# ------------------------------------------------------------------------------------------------ helpers


def key(name: str) -> str:
    """CSS selector of the element container of the widget with Streamlit key ``name``."""
    return f".st-key-{name}"


def button(page, widget_key: str):
    """The button with Streamlit key ``widget_key`` (a button with help text renders a second, hidden one)."""
    return page.locator(f"{key(widget_key)} button[data-testid^='stBaseButton']:visible").first


def settle(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished the current script run (no stale elements, no running indicator)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-stale=\"true\"]')"
        " && !document.querySelector('[data-testid=\"stStatusWidget\"] [data-testid=\"stStatusWidgetRunningIcon\"]')",
        timeout=timeout)
    page.wait_for_timeout(300)


def open_page(page, title: str, heading: str | None = None) -> None:
    """Follow the sidebar link ``title`` and wait for the page's heading."""
    page.locator('[data-testid="stSidebarNavLink"]', has_text=title).first.click()
    expect(page.locator("h1", has_text=heading or title)).to_be_visible(timeout=60_000)
    settle(page)


def choose(page, widget_key: str, option: str) -> None:
    """Pick ``option`` in the select box with key ``widget_key`` (its Open button lists every option).

    Tried up to three times: a click that lands while Streamlit swaps the widget for its re-rendered copy opens
    a list that is gone at once.
    """
    for attempt in range(3):
        settle(page)
        page.locator(key(widget_key)).get_by_role("button", name="Open").last.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=15_000)
            break
        except sync_api.TimeoutError:
            page.keyboard.press("Escape")
            if attempt == 2:
                raise
    settle(page)
    expect(page.locator(f"{key(widget_key)} input").last).to_have_value(option)


def metric(page, label: str):
    """The value of the metric ``label``. While a fragment re-renders (a run changing state) its old elements stay
    in the page, marked stale, beside the new ones: stale ones are skipped, and of two current ones the last is
    taken, so the expectation re-resolves the locator until it holds instead of failing on a duplicate."""
    current = page.locator('[data-testid="stElementContainer"]:not([data-stale="true"]) [data-testid="stMetric"]',
                           has_text=label)
    return current.locator('[data-testid="stMetricValue"]').last


def plot_data(page, selector: str) -> list[dict]:
    """The traces of the plotly chart under ``selector`` (the `data` of plotly's graph div)."""
    return page.evaluate(
        """(sel) => {
             const div = document.querySelector(sel + ' .js-plotly-plot');
             if (!div || !div.data) return null;
             return div.data.map(t => ({name: t.name || '', type: t.type || 'scatter',
                                         n: t.x ? t.x.length : 0, z: t.z || null}));
           }""", selector)


def loss_points(page) -> int:
    traces = plot_data(page, '[class*="st-key-live_loss_"]') or []
    return max((t["n"] for t in traces if t["name"] == "train loss"), default=0)


def shot(page, name: str) -> None:
    """Screenshot of the whole page (at most MAX_SHOT_HEIGHT px) to docs/screenshots/<name>.png.

    Streamlit scrolls inside its main container, so ``full_page=True`` alone gives the viewport: the viewport is
    made as tall as the content for the screenshot, then set back.
    """
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMainBlockContainer\"]');"
                           " return m ? Math.ceil(m.getBoundingClientRect().height) + 40 : 0; }")
    height = max(VIEWPORT["height"], min(int(height or 0), MAX_SHOT_HEIGHT))
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    try:
        page.wait_for_timeout(500)  # plotly charts re-layout
        png = page.screenshot(full_page=True)
    finally:
        page.set_viewport_size(VIEWPORT)
    small_png(png, SHOTS / f"{name}.png")


def small_png(png: bytes, path: Path) -> None:
    """Write ``png`` with a 256-colour palette (Pillow comes with Streamlit): about 2.5 times smaller."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


# ------------------------------------------------------------------------------------------------ the test


def test_studio_in_a_real_browser(app_url, page, tmp_path):
    url, workspace = app_url
    # a typed model folder must lie inside an allowed root (default: the workspace's imports/, core.runs.paths)
    model_dir = build_tiny_model_dir(str(Path(workspace) / "imports" / "tiny_model"))
    try:
        walk_through(page, url, workspace, model_dir)
    except Exception:
        failure = tmp_path / "failure.png"
        page.screenshot(path=str(failure), full_page=True)
        print(f"screenshot at the failure: {failure}; streamlit log: {tmp_path / 'streamlit.log'}")
        raise


def walk_through(page, url: str, workspace: Path, model_dir: str) -> None:
    t0 = time.monotonic()
    for name, step in [("home", lambda: step_home(page, url)), ("data", lambda: step_data(page)),
                       ("train", lambda: step_train(page, model_dir)), ("runs", lambda: step_runs(page)),
                       ("evaluate", lambda: step_evaluate(page)), ("review", lambda: step_review(page, workspace)),
                       ("playground", lambda: step_playground(page)), ("home again", lambda: step_home_again(page))]:
        step()
        print(f"{name}: done at {time.monotonic() - t0:.0f} s")


def step_home(page, url: str) -> None:
    page.goto(url)
    expect(page.locator("h1", has_text="Multilingual NER Studio")).to_be_visible(timeout=60_000)
    expect(page.locator(key("quick_start"))).to_be_visible()
    settle(page)


def step_data(page) -> None:
    """Add the bundled demo corpus; its statistics and charts appear."""
    open_page(page, "Data")
    button(page, 'data_demo').click()
    expect(metric(page, "Languages")).to_have_text("8", timeout=60_000)
    expect(page.locator(key("data_entity_counts")).locator(".js-plotly-plot")).to_be_visible()
    settle(page)
    shot(page, "data")


def step_train(page, model_dir: str) -> None:
    """The tiny local model, small settings, Launch; the loss curve gains points; Stop; Resume to FINISHED."""
    open_page(page, "Train")
    choose(page, "train_model", "Other (local folder or Hugging Face id)")
    page.locator(f"{key('train_model_other')} input").fill(model_dir)
    page.locator(f"{key('train_model_other')} input").press("Enter")
    settle(page)
    page.locator('[data-testid="stExpander"] summary', has_text="All settings").click()
    for name, value in TRAIN_SETTINGS.items():
        box = page.get_by_label(name, exact=True)
        box.fill(str(value))
        box.press("Enter")
        settle(page)
    page.locator(f"{key('train_name')} input").fill("browser-tiny")
    page.locator(f"{key('train_name')} input").press("Enter")
    settle(page)
    launch = button(page, 'train_launch')
    expect(launch).to_be_enabled()
    launch.click()

    # The live panel: the loss curve gains points while the run is RUNNING.
    expect(metric(page, "Status")).to_have_text("RUNNING", timeout=60_000)
    page.wait_for_function("() => { const d = document.querySelector('[class*=\"st-key-live_loss_\"] .js-plotly-plot');"
                           " return d && d.data && d.data.length > 0 && d.data[0].x.length >= 1; }", timeout=90_000)
    before = loss_points(page)
    page.wait_for_function(
        "(n) => { const d = document.querySelector('[class*=\"st-key-live_loss_\"] .js-plotly-plot');"
        " return d && d.data && d.data.length > 0 && d.data[0].x.length > n; }", arg=before, timeout=90_000)
    after = loss_points(page)
    assert after > before >= 1

    # Stop: the run ends at the next step with a checkpoint.
    button(page, 'train_stop').click()
    expect(metric(page, "Status")).to_have_text("STOPPED", timeout=60_000)
    stopped_step = metric(page, "Step").inner_text()
    print(f"loss points {before} -> {after}; stopped at step {stopped_step}")
    assert not stopped_step.startswith(f"{TRAIN_SETTINGS['max_steps']}/"), stopped_step

    # A stopped run has no predictions yet: Resume it to the end (the best model then predicts dev and test).
    button(page, 'train_resume').click()
    expect(metric(page, "Status")).to_have_text("FINISHED", timeout=600_000)
    expect(page.get_by_text("Final scores per language")).to_be_visible(timeout=60_000)
    settle(page)
    assert loss_points(page) >= after
    shot(page, "train")


def step_runs(page) -> None:
    open_page(page, "Runs")
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    expect(page.locator(f"{key('runs_zip_run')} input")).to_have_value(re.compile("browser-tiny"))
    shot(page, "runs")


def step_evaluate(page) -> None:
    """A confusion matrix: a plotly heatmap with non-zero counts."""
    open_page(page, "Evaluate")
    cm = '[class*="st-key-eval_cm_"]'
    expect(page.locator(cm).locator(".js-plotly-plot")).to_be_visible(timeout=60_000)
    traces = plot_data(page, cm)
    heat = [t for t in traces or [] if t["type"] == "heatmap"]
    assert heat and heat[0]["z"] and sum(sum(row) for row in heat[0]["z"]) > 0, traces
    expect(page.locator(key("eval_heatmap")).locator(".js-plotly-plot")).to_be_visible()
    settle(page)
    shot(page, "evaluate")


def step_review(page, workspace: Path) -> None:
    """Give a name, set the first token of the first sentence to MISC, Apply; after a reload the edit is kept."""
    open_page(page, "Review")
    page.locator(f"{key('review_name')} input").fill(REVIEWER)
    page.locator(f"{key('review_name')} input").press("Enter")
    expect(page.get_by_text("Enter your name above")).to_have_count(0)
    settle(page)
    label_box = page.locator('[class*="st-key-rv_label_"]').first
    label_key = next(c for c in label_box.get_attribute("class").split() if c.startswith("st-key-rv_label_"))
    index = label_key.removeprefix("st-key-rv_label_")
    choose(page, f"rv_label_{index}", "MISC")
    button(page, f"rv_apply_{index}").click()
    edited = page.get_by_text(f"edit by {REVIEWER}")
    expect(edited).to_be_visible(timeout=60_000)
    expect(page.get_by_text("1 edited", exact=False)).to_be_visible()
    page.reload()
    expect(page.locator("h1", has_text="Review")).to_be_visible(timeout=60_000)
    expect(page.get_by_text(f"edit by {REVIEWER}")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("1 edited", exact=False)).to_be_visible()
    settle(page)
    logs = list((workspace / "reviews").glob("*.jsonl"))
    assert len(logs) == 1
    decisions = list(ReviewLog(logs[0]).latest().values())
    assert [(d.index, d.action, d.reviewer) for d in decisions] == [(int(index), "edit", REVIEWER)], decisions
    assert decisions[0].tags[0] == "B-MISC", decisions[0]
    page.locator(f"{key('review_name')} input").fill(REVIEWER)  # the name is per browser session
    page.locator(f"{key('review_name')} input").press("Enter")
    expect(page.get_by_text("Enter your name above")).to_have_count(0)
    settle(page)
    shot(page, "review")


def step_playground(page) -> None:
    """The finished run tags the examples; at least one shows a highlighted entity."""
    open_page(page, "Playground")
    found = None
    for name in EXAMPLES:
        choose(page, "pg_example", name)
        expect(metric(page, "Latency")).to_be_visible(timeout=60_000)
        settle(page)
        if page.locator("mark.ner-ent").count() > 0:
            found = name
            print(f"playground: {page.locator('mark.ner-ent').count()} entities in the {name} example")
            break
    assert found, "the tiny model found no entity in any Playground example"
    expect(page.locator("mark.ner-ent").first).to_be_visible()
    shot(page, "playground")


def step_home_again(page) -> None:
    """Home, now with the run among the recent runs."""
    open_page(page, "Home", "Multilingual NER Studio")
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    expect(page.get_by_text("No runs yet")).to_have_count(0)
    settle(page)
    shot(page, "home")


def test_password_gate_in_a_real_browser(tmp_path, page):
    """With NER_STUDIO_PASSWORD set, a deep link shows only the password field, no page content; a wrong password
    is refused (after the gate's delay); the right one opens the page that was asked for."""
    with serve(tmp_path, NER_STUDIO_PASSWORD="s3cret-gate") as (url, _):
        page.goto(f"{url}/data")
        field = page.get_by_label("Password", exact=True)
        expect(field).to_be_visible()
        expect(page.locator("h1", has_text="Data")).to_have_count(0)
        expect(page.get_by_text("Add a dataset")).to_have_count(0)
        field.fill("wrong")
        field.press("Enter")
        expect(page.get_by_text("Wrong password.")).to_be_visible()
        expect(page.get_by_text("Add a dataset")).to_have_count(0)
        field = page.get_by_label("Password", exact=True)
        field.fill("s3cret-gate")
        field.press("Enter")
        expect(page.get_by_text("Add a dataset")).to_be_visible()
        expect(page.get_by_label("Password", exact=True)).to_have_count(0)
