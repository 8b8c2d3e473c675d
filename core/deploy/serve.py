"""The prediction service: an HTTP JSON API over one :class:`core.model.predictor.Predictor` (Starlette + uvicorn).

Endpoints:

- ``POST /predict``: ``{"text": str}`` or ``{"tokens": [str, ...]}``, optional ``"lang"`` ->
  ``{"words", "tags", "entities": [{"start", "end", "label", "score", "text"}], "lang"}``. Offsets are characters
  (end exclusive) into ``text``; for ``tokens`` into the tokens joined by single spaces. ``lang`` is the one given,
  else langdetect's (``und`` when unsure).
- ``POST /predict/batch``: ``{"items": [<predict body>, ...]}`` -> ``{"results": [<predict answer>, ...]}``, one
  forward pass for all items.
- ``GET /health``: ``{"status": "ok", "backend", "model"}`` (no token needed: load balancers probe it).
- ``GET /openapi.json`` (OpenAPI 3.1) and ``GET /docs`` (the same, readable, no external script).

Access: with a token set, the predict endpoints need ``Authorization: Bearer <token>`` (compared in constant time
with :func:`hmac.compare_digest`) and answer 401 otherwise. Limits: request bodies over ``max_body_bytes`` get 413,
as do texts over ``max_chars`` characters, token lists over ``max_words`` and batches over ``max_batch`` items.
Bad JSON gets 400 with a coded error (``E606``). Several worker processes (``workers`` > 1) each load the model.
"""

from __future__ import annotations

import hmac
import html
import json
import os
import sys
import threading
from typing import Any

from core.deploy.errors import DeployError

ENV_MODEL = "NER_STUDIO_SERVE_MODEL"
ENV_TOKEN = "NER_STUDIO_SERVE_TOKEN"
ENV_LIMITS = "NER_STUDIO_SERVE_LIMITS"
DEFAULT_LIMITS = {"max_body_bytes": 1_000_000, "max_chars": 20_000, "max_words": 5_000, "max_batch": 64}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class _RequestError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _parse_item(item: Any, limits: dict) -> tuple[str, list[str], list[tuple[int, int]], str | None]:
    """(text, words, offsets, lang) of one request item. Raises _RequestError (400/413)."""
    from core.data.formats.words import split_words

    if not isinstance(item, dict):
        raise _RequestError(400, "E606", "the body must be a JSON object")
    lang = item.get("lang")
    if lang is not None and (not isinstance(lang, str) or len(lang) > 16):
        raise _RequestError(400, "E606", "'lang' must be a short language code")
    if ("text" in item) == ("tokens" in item):
        raise _RequestError(400, "E606", "give exactly one of 'text' (a string) or 'tokens' (a list of strings)")
    if "text" in item:
        text = item["text"]
        if not isinstance(text, str):
            raise _RequestError(400, "E606", "'text' must be a string")
        if len(text) > limits["max_chars"]:
            raise _RequestError(413, "E606", f"text of {len(text):,} characters is over the limit of "
                                             f"{limits['max_chars']:,}")
        offsets = split_words(text)
        words = [text[a:b] for a, b in offsets]
    else:
        tokens = item["tokens"]
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise _RequestError(400, "E606", "'tokens' must be a list of strings")
        if len(tokens) > limits["max_words"]:
            raise _RequestError(413, "E606", f"{len(tokens):,} tokens are over the limit of {limits['max_words']:,}")
        words, offsets, pos = list(tokens), [], 0
        for t in tokens:
            offsets.append((pos, pos + len(t)))
            pos += len(t) + 1
        text = " ".join(tokens)
        if len(text) > limits["max_chars"]:
            raise _RequestError(413, "E606", f"tokens of {len(text):,} characters are over the limit of "
                                             f"{limits['max_chars']:,}")
    return text, words, offsets, lang


def predict_items(predictor, items: list, limits: dict) -> list[dict]:
    """Answers for parsed request items, all words in one :meth:`Predictor.predict_tokens` call."""
    from core.data.langid import detect
    from core.model.predictor import entity_spans

    parsed = [_parse_item(it, limits) for it in items]
    preds = predictor.predict_tokens([p[1] for p in parsed])
    out = []
    for (text, words, offsets, lang), pred in zip(parsed, preds):
        out.append({"words": words, "tags": pred.tags,
                    "entities": entity_spans(text, offsets, pred),
                    "lang": lang or (detect(text)[0] if text.strip() else "und")})
    return out


def openapi_schema(title: str = "Multilingual NER Studio prediction service") -> dict:
    """The OpenAPI 3.1 description of the service (served at ``/openapi.json``)."""
    item = {"type": "object", "properties": {
        "text": {"type": "string", "description": "raw text (split into words by the studio's rule)"},
        "tokens": {"type": "array", "items": {"type": "string"}, "description": "pre-split words"},
        "lang": {"type": "string", "description": "language code; detected when absent"}},
        "description": "exactly one of text or tokens"}
    answer = {"type": "object", "properties": {
        "words": {"type": "array", "items": {"type": "string"}},
        "tags": {"type": "array", "items": {"type": "string"}, "description": "one IOB2 tag per word"},
        "entities": {"type": "array", "items": {"type": "object", "properties": {
            "start": {"type": "integer"}, "end": {"type": "integer", "description": "exclusive"},
            "label": {"type": "string"}, "score": {"type": "number"}, "text": {"type": "string"}}}},
        "lang": {"type": "string"}}}
    err = {"description": "error", "content": {"application/json": {"schema": {"type": "object", "properties": {
        "error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}}}}
    common = {"400": err, "401": err, "413": err}
    sec = [{"bearer": []}]

    def body(schema):
        return {"required": True, "content": {"application/json": {"schema": schema}}}

    return {"openapi": "3.1.0", "info": {"title": title, "version": "1"},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                           "schemas": {"Item": item, "Answer": answer}},
            "paths": {
                "/predict": {"post": {"summary": "Tag one text or token list", "security": sec,
                                      "requestBody": body({"$ref": "#/components/schemas/Item"}),
                                      "responses": {"200": {"description": "tags and entities", "content": {
                                          "application/json": {"schema": {"$ref": "#/components/schemas/Answer"}}}},
                                          **common}}},
                "/predict/batch": {"post": {"summary": "Tag several items in one call", "security": sec,
                                            "requestBody": body({"type": "object", "properties": {"items": {
                                                "type": "array", "items": {"$ref": "#/components/schemas/Item"}}}}),
                                            "responses": {"200": {"description": "one answer per item", "content": {
                                                "application/json": {"schema": {"type": "object", "properties": {
                                                    "results": {"type": "array", "items": {
                                                        "$ref": "#/components/schemas/Answer"}}}}}}}, **common}}},
                "/health": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}}}}


def create_app(predictor, token: str | None = None, limits: dict | None = None, model_name: str = ""):
    """The Starlette application serving ``predictor``.

    Args:
        predictor: a loaded :class:`core.model.predictor.Predictor` (PyTorch or ONNX backend).
        token: Bearer token required by the predict endpoints; None or ``""`` serves without one.
        limits: overrides of :data:`DEFAULT_LIMITS` (bytes, characters, words, items).
        model_name: shown by ``/health``.
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    lim = {**DEFAULT_LIMITS, **(limits or {})}
    expected = token.encode("utf-8") if token else None
    lock = threading.Lock()  # one forward pass at a time per process; workers scale out
    schema = openapi_schema()

    def error(status: int, code: str, message: str) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)

    def authorized(request) -> bool:
        if expected is None:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("utf-8"), expected)

    async def read_json(request):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > lim["max_body_bytes"]):
            raise _RequestError(413, "E606", f"request body over {lim['max_body_bytes']:,} bytes")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > lim["max_body_bytes"]:
                raise _RequestError(413, "E606", f"request body over {lim['max_body_bytes']:,} bytes")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _RequestError(400, "E606", f"the body is not JSON: {exc}") from exc

    def run_locked(items):
        with lock:
            return predict_items(predictor, items, lim)

    async def handle(request, batch: bool):
        if not authorized(request):
            return error(401, "E607", "missing or wrong Bearer token")
        try:
            body = await read_json(request)
            if batch:
                items = body.get("items") if isinstance(body, dict) else None
                if not isinstance(items, list):
                    raise _RequestError(400, "E606", "the body must be {\"items\": [...]}")
                if len(items) > lim["max_batch"]:
                    raise _RequestError(413, "E606", f"{len(items)} items are over the limit of {lim['max_batch']}")
                return JSONResponse({"results": await run_in_threadpool(run_locked, items)})
            return JSONResponse((await run_in_threadpool(run_locked, [body]))[0])
        except _RequestError as exc:
            return error(exc.status, exc.code, exc.message)

    async def predict(request):
        return await handle(request, batch=False)

    async def predict_batch(request):
        return await handle(request, batch=True)

    async def health(request):
        return JSONResponse({"status": "ok", "backend": getattr(predictor, "backend", "torch"), "model": model_name})

    async def openapi(request):
        return JSONResponse(schema)

    async def docs(request):
        rows = "".join(f"<h2>{html.escape(m.upper())} {html.escape(p)}</h2><p>{html.escape(op.get('summary', ''))}</p>"
                       for p, ops in schema["paths"].items() for m, op in ops.items())
        return HTMLResponse(f"<!doctype html><title>{html.escape(schema['info']['title'])}</title>"
                            f"<h1>{html.escape(schema['info']['title'])}</h1>{rows}<h2>OpenAPI</h2><pre>"
                            f"{html.escape(json.dumps(schema, indent=2))}</pre>")

    return Starlette(routes=[Route("/predict", predict, methods=["POST"]),
                             Route("/predict/batch", predict_batch, methods=["POST"]),
                             Route("/health", health, methods=["GET"]),
                             Route("/openapi.json", openapi, methods=["GET"]),
                             Route("/docs", docs, methods=["GET"])])


def app_from_env():
    """Application factory for uvicorn worker processes: model, token and limits from the environment."""
    from core.model.predictor import Predictor

    model = os.environ.get(ENV_MODEL)
    if not model:
        raise DeployError("E606", f"{ENV_MODEL} is not set", fix="Start the service with `ner-studio serve`.")
    limits = json.loads(os.environ.get(ENV_LIMITS) or "{}")
    return create_app(Predictor(model), token=os.environ.get(ENV_TOKEN) or None, limits=limits,
                      model_name=os.path.basename(os.path.normpath(model)))


def serve(model_dir: str, host: str = "127.0.0.1", port: int = 8000, token: str | None = None, workers: int = 1,
          limits: dict | None = None, log_level: str = "info") -> None:
    """Run the service until interrupted (blocks). ``workers`` > 1 starts that many processes (uvicorn).

    Raises:
        ConfigError: E203 when the model folder cannot be loaded (checked before the port is opened).
    """
    import uvicorn

    from core.model.predictor import Predictor

    if host not in LOOPBACK and not token:
        print(f"WARNING: serving on {host} without a token: anyone who can reach the port can use the model "
              "(set --token)", file=sys.stderr)
    if workers <= 1:
        app = create_app(Predictor(model_dir), token=token, limits=limits,
                         model_name=os.path.basename(os.path.normpath(model_dir)))
        uvicorn.run(app, host=host, port=port, log_level=log_level)
        return
    Predictor(model_dir)  # fail here, once, with a coded error, rather than in every worker
    os.environ[ENV_MODEL] = os.path.abspath(model_dir)
    os.environ[ENV_TOKEN] = token or ""
    os.environ[ENV_LIMITS] = json.dumps(limits or {})
    uvicorn.run("core.deploy.serve:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level)
