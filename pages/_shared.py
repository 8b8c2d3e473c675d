"""Helpers every page uses: the run store, the page preamble (CSS, dead-worker check), the password gate, the
one pattern for choices that survive page switches, the top-level error handler and small widgets.

Imports no torch, transformers or sqlite3 (tests/test_pages.py checks it).
"""

from __future__ import annotations

import hmac
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

import streamlit as st

from core.kernel.errors import StudioError
from core.runs import jobs
from core.runs.paths import check_model_path
from core.ui.render import CSS
from core.runs.store import RunStore, workspace_dir

STYLE_FILE = Path(__file__).resolve().parents[1] / "assets" / "style.css"
PASSWORD_ENV = "NER_STUDIO_PASSWORD"
#: Seconds of delay after the first failed password; doubled per further failure, at most MAX_DELAY_S.
BASE_DELAY_S = 0.25
MAX_DELAY_S = 10.0
APP_LOG = "logs/app.log"
#: Prefix of the session-state entries that keep choices across pages (see :func:`durable`).
KEEP = "_keep."
REVIEWER_KEY = "review_name"


@st.cache_resource(show_spinner=False)
def _store(path: str) -> RunStore:
    return RunStore(path)


def store() -> RunStore:
    """The workspace's run store ($NER_STUDIO_WORKSPACE, else ./workspace), one object per workspace."""
    return _store(str(workspace_dir()))


def setup(title: str, caption: str | None = None) -> RunStore:
    """Page preamble: styles, title, and :func:`core.runs.jobs.check_alive` so dead workers show FAILED.

    Raises:
        StudioError: ``E321`` / ``E322`` when the run store is damaged or the disk is full (shown by
            :func:`run_page` with the fix).
    """
    if not gate():  # also here: a page script run on its own (not through app.py) is gated as well
        st.stop()
    st.html(CSS)
    if STYLE_FILE.exists():
        st.html(f"<style>{STYLE_FILE.read_text(encoding='utf-8')}</style>")
    st.title(title)
    if caption:
        st.caption(caption)
    if "_repaired" in st.session_state:
        st.success(st.session_state.pop("_repaired"))
    s = store()
    try:
        jobs.check_alive(s)  # the first store access of every page: a damaged store or a full disk shows here
    except StudioError as exc:
        show_error(exc)
        st.stop()
    return s


# ------------------------------------------------------------------------------------------------ password gate


def configured_password() -> str | None:
    """``$NER_STUDIO_PASSWORD``, else ``[auth] password`` of ``.streamlit/secrets.toml``; None when neither."""
    env = os.environ.get(PASSWORD_ENV)
    if env:
        return env
    try:
        auth = st.secrets.get("auth") or {}
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return None  # no secrets.toml at all: no password configured
    value = auth.get("password") if hasattr(auth, "get") else None
    return str(value) if value else None


@st.cache_resource(show_spinner=False)
def _failures() -> dict:
    """Failed attempts for the whole server (a new browser session does not reset the delay)."""
    return {"n": 0, "lock": threading.Lock()}


def gate() -> bool:
    """The password gate: True when the session may see the pages.

    Without a configured password (:func:`configured_password`) every session passes. Otherwise only a password
    field is drawn until the right password is given: compared in constant time (:func:`hmac.compare_digest`),
    and every failure waits ``BASE_DELAY_S * 2**(failures-1)`` seconds (at most ``MAX_DELAY_S``), counted for the
    whole server, before saying so. Success is kept for the browser session.
    """
    expected = configured_password()
    if expected is None or st.session_state.get("_authenticated"):
        return True
    st.title("Multilingual NER Studio")
    with st.form("login", clear_on_submit=True):
        given = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Enter")
    if submitted:
        fails = _failures()
        if hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            with fails["lock"]:
                fails["n"] = 0
            st.session_state["_authenticated"] = True
            st.rerun()
        with fails["lock"]:
            fails["n"] += 1
            n = fails["n"]
        time.sleep(min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (n - 1)))
        st.error("Wrong password.")
    return False


# ------------------------------------------------------------------------------------------------ durable choices


def durable(widget: Callable[..., Any], label: str, *args: Any, key: str, default: Any = None, **kwargs: Any) -> Any:
    """Draw a widget whose value survives page switches, and return its value.

    Streamlit drops a widget's stored value on any run where the widget is not drawn (docs PITFALLS.md), so a
    choice kept only under its widget key resets when the user visits another page. The value is also kept
    under ``_keep.<key>`` (never a widget key, so never dropped) and written back before the widget is drawn.
    A kept value that is no longer among the options (a deleted run) is dropped, and ``default`` used.

    Args:
        widget: ``st.selectbox``, ``st.radio``, ``st.multiselect``, ``st.text_input``, ``st.checkbox``... (or a
            column's method: ``c1.selectbox``).
        label: the widget's label.
        *args: passed on; the first, when a list or tuple, is the options the kept value must be among.
        key: the widget key.
        default: value when nothing valid is kept.
        **kwargs: passed on to the widget.
    """
    options = list(args[0]) if args and isinstance(args[0], (list, tuple, dict)) else None

    def valid(value: Any) -> bool:
        if options is None:
            return True
        if isinstance(value, list):
            return all(v in options for v in value)
        return value in options

    if key in st.session_state and not valid(st.session_state[key]):
        del st.session_state[key]
    if key not in st.session_state:
        saved = st.session_state.get(KEEP + key)
        if saved is not None and valid(saved):
            st.session_state[key] = saved
        elif default is not None and valid(default):
            st.session_state[key] = default
    value = widget(label, *args, key=key, **kwargs)
    st.session_state[KEEP + key] = value
    return value


def remember(key: str, value: Any) -> None:
    """Set a durable choice from code (e.g. the dataset just saved), as if the user had picked it."""
    st.session_state[key] = value
    st.session_state[KEEP + key] = value


def kept(key: str, default: Any = None) -> Any:
    """A durable choice made on another page (``default`` when none)."""
    return st.session_state.get(KEEP + key, st.session_state.get(key, default))


def reviewer_name() -> str:
    """The reviewer's name: asked once per browser session (on Review), kept across pages and reruns."""
    return durable(st.text_input, "Your name (saved with every decision)", key=REVIEWER_KEY).strip()


# ------------------------------------------------------------------------------------------------ errors


def log_exception(exc: BaseException) -> Path:
    """Append the traceback to the workspace log ``<ws>/logs/app.log``; returns the log's path."""
    path = workspace_dir() / APP_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {type(exc).__name__}\n{text}\n")
    return path


def _repair_store() -> None:
    """Button callback (runs before the page, so the page then opens on the new store)."""
    out = store().repair()
    st.session_state["_repaired"] = (f"Repaired the run store: the damaged file is kept as "
                                     f"{Path(out['moved_to'] or '').name}; {out['runs']} run(s) and "
                                     f"{out['datasets']} dataset(s) registered again.")


def show_error(exc: BaseException) -> None:
    """Show an error as a coded message, never a traceback; the traceback goes to the workspace log.

    A :class:`StudioError` is shown as ``[CODE] message. fix``; ``E321`` (damaged run store) adds the button
    that repairs it. Anything else is ``E323`` with the exception's type only (its text may hold server paths).
    """
    if isinstance(exc, StudioError):
        st.error(str(exc))
        if exc.code == "E321":
            st.button("Repair the run store", type="primary", key="repair_store", on_click=_repair_store,
                      help="Moves the damaged file aside, creates a new store and registers the runs and "
                           "datasets found on disk again (their metric curves are lost).")
        return
    try:
        log_exception(exc)
        where = f"the workspace log ({APP_LOG})"
    except OSError as log_exc:  # a full or read-only disk: say so instead of failing again
        where = f"nowhere: the workspace log cannot be written ({log_exc.strerror})"
    st.error(f"[E323] unexpected error ({type(exc).__name__}); the traceback was written to {where}. "
             f"Reload the page; if it happens again, report it with that file.")


def run_page(page: Any) -> None:
    """Run the current page under the top-level handler: no traceback ever reaches a page (see show_error).

    Streamlit's own control flow (``st.stop``, ``st.rerun``, ``st.switch_page``) derives from BaseException and
    passes through.
    """
    try:
        page.run()
    except Exception as exc:  # the top-level handler: every error becomes a coded message (traceback logged)
        show_error(exc)


def guarded(fn: Callable[..., None]) -> Callable[..., None]:
    """``fn`` under the same handler as :func:`run_page`, for fragments (their reruns skip the page handler)."""
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception as exc:  # see run_page
            show_error(exc)

    wrapper.__name__ = getattr(fn, "__name__", "fragment")
    wrapper.__qualname__ = getattr(fn, "__qualname__", wrapper.__name__)
    return wrapper


# ------------------------------------------------------------------------------------------------ small widgets


def model_field(choice: str, other: str, bundled: Sequence[str], key: str, column: Any = st) -> str | None:
    """The model chosen, with a typed folder checked against the allowed roots (``E320`` shown, None returned)."""
    if choice != other:
        return choice
    value = column.text_input("Model folder or Hub id", key=key)
    if not value:
        return None
    try:
        return check_model_path(value, bundled)
    except StudioError as exc:
        column.error(str(exc))
        return None


def show_html(fragment: str) -> None:
    """Show HTML made by core.ui.render (already escaped there)."""
    st.html(fragment)


def fmt_score(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


# ------------------------------------------------------------------------------------------------ scoring stopped runs


def predictions_mark(s: RunStore, run: Any) -> str:
    """``from step N, stopped`` when a run's predictions come from a stopped or failed run's best model, else ''
    (see :func:`core.runs.scoring.prediction_mark`)."""
    from core.runs.scoring import prediction_mark

    return prediction_mark(run, s.run_dir(run.run_id, create=False))


def predictions_label(s: RunStore, run: Any) -> str:
    """A run's label for the Evaluate / Review pickers, with :func:`predictions_mark` when there is one."""
    from core.ui.runinfo import run_label

    mark = predictions_mark(s, run)
    return run_label(run) + (f" · {mark}" if mark else "")


def score_stopped_runs(s: RunStore, key: str, expanded: bool = False) -> None:
    """Offer "Score this run's dev/test now" for STOPPED and FAILED runs that saved a best model: a background
    job (:func:`core.runs.jobs.launch_scoring`) writes their predictions like a finished run's."""
    from core.runs.scoring import RUNNING_STATE, best_model, describe
    from core.ui.runinfo import run_label

    found = {r.run_id: (r, m) for r in s.list_runs(status=("STOPPED", "FAILED"))
             if (m := best_model(r, s.run_dir(r.run_id, create=False)))}
    if not found:
        return

    def label(i: str) -> str:
        r, (_, step) = found[i]
        return f"{run_label(r)} · best model from step {step if step is not None else '?'}, {r.status.lower()}"

    with st.expander(f"Score a stopped or failed run ({len(found)} with a best model)", expanded=expanded):
        rid = durable(st.selectbox, "Run", list(found), format_func=label, key=f"{key}_score_run")
        state = jobs.scoring_status(rid, s)
        running = bool(state and state.get("state") == RUNNING_STATE)
        if st.button("Score this run's dev/test now", key=f"{key}_score", disabled=running,
                     help="Predicts the run's dev and test sentences with the best model it saved, in the "
                          "background; the predictions are then evaluated and reviewed here like a finished run's, "
                          "marked with the step they come from."):
            try:
                jobs.launch_scoring(rid, s)
            except StudioError as exc:
                st.error(str(exc))
            else:
                st.rerun()
        if running:
            st.fragment(guarded(_scoring_watch), run_every=2.0)(rid)
        elif state:
            (st.error if state.get("state") == "FAILED" else st.caption)(describe(state))


def _scoring_watch(run_id: str) -> None:
    """Shows a running scoring job; reruns the page when it has ended (its predictions then appear)."""
    from core.runs.scoring import RUNNING_STATE, describe

    state = jobs.scoring_status(run_id, store())
    if not state or state.get("state") != RUNNING_STATE:
        st.rerun(scope="app")
    st.info(describe(state))
