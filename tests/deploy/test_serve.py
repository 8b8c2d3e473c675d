"""The prediction service on a free loopback port: with and without a Bearer token, limits, batch, docs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from core.deploy.serve import create_app, openapi_schema

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(port, path, body=None, token=None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null"), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)


def _wait(port, deadline_s=60.0):
    t0 = time.time()
    while time.time() - t0 < deadline_s:
        try:
            return _call(port, "/health")
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"service on port {port} did not come up in {deadline_s} s")


@pytest.fixture(scope="module")
def service(onnx_export):
    """The fp32 ONNX model served in-process (uvicorn in a thread) on a free port, with a token and small limits.

    fp32, not int8: dynamic int8 quantizes activations with one scale per batch, so an int8 sentence's tags may
    change with its batch-mates and "batch equals single calls" would not hold exactly."""
    import uvicorn

    from core.deploy.export import ONNX_FP32
    from core.model.predictor import Predictor

    folder, _ = onnx_export
    port = _free_port()
    app = create_app(Predictor(folder, onnx_file=ONNX_FP32), token=TOKEN, limits={"max_body_bytes": 4000, "max_batch": 3,
                                                             "max_chars": 500}, model_name="tiny")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait(port)
    yield port
    server.should_exit = True
    thread.join(timeout=10)


def test_token_required_and_compared(service):
    body = {"text": "Angela Merkel besuchte Paris"}
    status, out, headers = _call(service, "/predict", body)
    assert status == 401 and out["error"]["code"] == "E607" and headers.get("www-authenticate") == "Bearer"
    assert _call(service, "/predict", body, token="wrong")[0] == 401
    assert _call(service, "/predict", body, token=TOKEN + "x")[0] == 401
    status, out, _ = _call(service, "/predict", body, token=TOKEN)
    assert status == 200
    assert out["words"] == ["Angela", "Merkel", "besuchte", "Paris"] and len(out["tags"]) == 4
    for e in out["entities"]:
        assert body["text"][e["start"]:e["end"]] == e["text"] and 0 <= e["score"] <= 1 and e["label"]
    assert isinstance(out["lang"], str)


def test_tokens_input_lang_kept_and_offsets_into_joined_tokens(service):
    tokens = ["El", "Real", "Madrid", "ganó", "la", "Liga"]
    status, out, _ = _call(service, "/predict", {"tokens": tokens, "lang": "es"}, token=TOKEN)
    assert status == 200 and out["lang"] == "es" and out["words"] == tokens
    assert len(out["tags"]) == len(tokens)
    joined = " ".join(tokens)
    for e in out["entities"]:
        assert joined[e["start"]:e["end"]] == e["text"]


def test_batch_matches_single_calls(service):
    items = [{"text": "Barack Obama was born in Honolulu"}, {"tokens": ["Москву", "и"], "lang": "ru"}]
    status, out, _ = _call(service, "/predict/batch", {"items": items}, token=TOKEN)
    assert status == 200 and len(out["results"]) == 2
    for item, res in zip(items, out["results"]):
        single = _call(service, "/predict", item, token=TOKEN)[1]
        assert res["tags"] == single["tags"] and res["entities"] == single["entities"]


@pytest.mark.parametrize("body,raw,status", [
    ({"text": "x" * 501}, None, 413),                      # over max_chars
    ({"items": [{"text": "a"}] * 4}, None, 413),           # over max_batch (batch endpoint)
    (None, b"{" + b" " * 5000 + b"}", 413),                # body over max_body_bytes
    (None, b"not json", 400),
    ({"text": "a", "tokens": ["a"]}, None, 400),
    ({"tokens": [1, 2]}, None, 400),
    ([1, 2], None, 400),
])
def test_bad_or_oversized_requests_get_coded_errors(service, body, raw, status):
    path = "/predict/batch" if isinstance(body, dict) and "items" in body else "/predict"
    got, out, _ = _call(service, path, body, token=TOKEN, raw=raw)
    assert got == status and out["error"]["code"] == "E606" and out["error"]["message"]


def test_health_and_docs_need_no_token(service):
    status, out, _ = _call(service, "/health")
    assert status == 200 and out == {"status": "ok", "backend": "onnx", "model": "tiny"}
    status, schema, _ = _call(service, "/openapi.json")
    assert status == 200 and schema["openapi"].startswith("3.") and "/predict/batch" in schema["paths"]
    with urllib.request.urlopen(f"http://127.0.0.1:{service}/docs", timeout=10) as resp:
        assert b"/predict" in resp.read()


def test_openapi_declares_bearer_on_predict_only():
    paths = openapi_schema()["paths"]
    assert paths["/predict"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in paths["/health"]["get"]


def test_cli_serve_without_token_on_loopback(onnx_export):
    folder, _ = onnx_export
    port = _free_port()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "core", "serve", "--model", folder, "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert _wait(port, 120)[0] == 200
        status, out, _ = _call(port, "/predict", {"text": "Paris und Madrid"})
        assert status == 200 and out["words"] == ["Paris", "und", "Madrid"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
