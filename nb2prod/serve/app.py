"""The FastAPI app: ``/predict``, ``/feedback``, ``/health``, ``/metadata``, ``/metrics``.

Bodies are read and decoded here rather than by FastAPI's body parsing, so that every refusal (too
large, not JSON, a column the schema lacks) is a 4xx naming the field, is counted and lands in the
prediction log as ``rejected``; the schema itself is pydantic, built from the card
(``nb2prod.serve.schema``), and shows in ``/docs``. ``predict`` runs on the event loop, not in the
thread pool: a CPU-bound model gains nothing from threads under the GIL, and 16 concurrent requests
each in a thread (with BLAS threads of their own) halved throughput on two cores; scale with
``--workers`` instead.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import Response

from nb2prod.serve.log import PredictionLog, dumps, new_request_id, orjson, utc_now
from nb2prod.serve.metrics import Metrics
from nb2prod.serve.schema import PayloadSchema, RequestError, jsonable

logger = logging.getLogger("nb2prod.serve")
REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


class ServableModel(Protocol):
    """What the app needs of a loaded model (``nb2prod.train.store.LoadedModel`` is one)."""

    card: dict[str, Any]

    def predict(self, **payload: Any) -> dict[str, Any]: ...


@dataclass
class AppSettings:
    token: str | None = None  # every route but /health needs ``Authorization: Bearer <token>``
    max_body_bytes: int = 50 * 2**20
    log: PredictionLog | None = None


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json", headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, or a 413 once it passes ``limit`` (the rest is drained so the client sees the answer)."""
    length = request.headers.get("content-length")
    too_big = length is not None and length.isdigit() and int(length) > limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            too_big = True
        if too_big:
            if size > 4 * limit:  # not worth draining: the connection closes after the answer
                break
            continue
        chunks.append(chunk)
    if too_big:
        raise RequestError(
            f"the body is {int(length) if length and length.isdigit() else size} bytes, over the "
            f"limit of {limit} bytes (nb2prod serve --max-body-mb, or [tool.nb2prod.serve] max_body_mb).",
            status=413,
        )
    return b"".join(chunks)


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        raise RequestError("the body is empty; send a JSON object.", status=400)
    if orjson is not None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the standard library says where, and reads NaN (which the schema then names)
    try:
        return json.loads(raw)
    except UnicodeDecodeError as err:
        raise RequestError(f"the body is not UTF-8 JSON ({err.reason} at byte {err.start}).", 400) from None
    except json.JSONDecodeError as err:
        raise RequestError(
            f"malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}.", status=400
        ) from None


def create_app(model: ServableModel, settings: AppSettings | None = None) -> FastAPI:
    """An app serving ``model``; the caller keeps the log open and the app closes it on shutdown."""
    settings = settings or AppSettings()
    card = model.card
    model_id = str(card.get("model_id"))
    code_version = str((card.get("code") or {}).get("version"))
    schema = PayloadSchema(card.get("payload") or {})
    metrics = Metrics(model_id)
    log = settings.log
    token = settings.token.encode() if settings.token else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        if log is not None:
            log.close()

    app = FastAPI(
        title=f"nb2prod: {card.get('name')}",
        version=f"{code_version} / {model_id}",
        lifespan=lifespan,
        description="Predictions from the production model trained by nb2prod.",
    )

    def refused(request: Request) -> Response | None:
        if token is None:
            return None
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return _json({"error": "this server needs 'Authorization: Bearer <token>'."}, 401,
                         {"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(header[7:].strip().encode(), token):
            return _json({"error": "the bearer token is wrong."}, 403)
        return None

    def record(request_id: str, status: str, http: int, started: float, **fields: Any) -> None:
        latency = (time.perf_counter() - started) * 1000
        metrics.observe("/predict", http, latency / 1000, fields.get("rows") or 0)
        if log is None:
            return
        line = {
            "kind": "prediction", "request_id": request_id, "time": utc_now(), "model_id": model_id,
            "code_version": code_version, "status": status, "http_status": http,
            "rows": fields.get("rows", 0), "payload": fields.get("payload"),
            "outputs": fields.get("outputs"), "latency_ms": round(latency, 3), "error": fields.get("error"),
        }
        try:
            log.write(line)
        except (OSError, ValueError, TypeError) as err:  # a full disk must not take predictions down
            logger.error("prediction log write failed: %s", err)

    @app.post("/predict", openapi_extra={"requestBody": _request_body(schema)})
    async def predict(request: Request) -> Response:
        started = time.perf_counter()
        request_id = new_request_id()
        denied = refused(request)
        if denied is not None:
            metrics.observe("/predict", denied.status_code, time.perf_counter() - started)
            return denied
        try:
            parsed = schema.parse(_decode(await _read_body(request, settings.max_body_bytes)))
        except RequestError as err:
            record(request_id, "rejected", err.status, started, error=err.message)
            return _json({"request_id": request_id, "error": err.message}, err.status)
        try:
            outputs = jsonable(model.predict(**parsed.payload))
        except Exception as err:  # the model's own failure: 500, logged, server stays up
            text = f"{type(err).__name__}: {err}"
            logger.exception("request %s: the model raised", request_id)
            record(request_id, "failed", 500, started, rows=parsed.rows, payload=parsed.logged, error=text)
            return _json({"request_id": request_id, "error": f"the model raised {text}"}, 500)
        answer = {"request_id": request_id, "model_id": model_id, "outputs": outputs}
        record(request_id, "ok", 200, started, rows=parsed.rows, payload=parsed.logged, outputs=outputs)
        return _json(answer, headers={"X-Request-ID": request_id})

    @app.post("/feedback")
    async def feedback(request: Request) -> Response:
        started = time.perf_counter()
        denied = refused(request)
        if denied is not None:
            return denied
        try:
            body = _decode(await _read_body(request, settings.max_body_bytes))
            request_id, outcome = _feedback(body)
        except RequestError as err:
            metrics.observe("/feedback", err.status, time.perf_counter() - started)
            return _json({"error": err.message}, err.status)
        if log is not None:
            log.write({"kind": "feedback", "request_id": request_id, "time": utc_now(),
                       "model_id": model_id, "code_version": code_version, "outcome": outcome})
        metrics.observe("/feedback", 200, time.perf_counter() - started)
        return _json({"request_id": request_id, "rows": len(outcome)})

    @app.get("/health")
    async def health() -> Response:
        return _json({"status": "ok", "model_id": model_id, "code_version": code_version})

    @app.get("/metadata")
    async def metadata(request: Request) -> Response:
        denied = refused(request)
        if denied is not None:
            return denied
        keep = ("name", "model_id", "created", "code", "parameters", "metrics", "data_files",
                "packages", "payload", "outputs", "gates", "round_trip", "trained_on")
        return _json({key: card.get(key) for key in keep})

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        denied = refused(request)
        if denied is not None:
            return denied
        text, content_type = metrics.render()
        return Response(text, media_type=content_type)

    return app


def _feedback(body: Any) -> tuple[str, list[Any]]:
    if not isinstance(body, dict) or set(body) - {"request_id", "outcome"}:
        raise RequestError('expected {"request_id": "<32 hex>", "outcome": [...]}, nothing else.')
    request_id, outcome = body.get("request_id"), body.get("outcome")
    if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
        raise RequestError("request_id: expected the 32-hex id a /predict answer gave.")
    if isinstance(outcome, int | float | str | bool):
        outcome = [outcome]
    if not isinstance(outcome, list) or not outcome:
        raise RequestError("outcome: expected a non-empty list, one observed value per row.")
    return request_id, outcome


def _request_body(schema: PayloadSchema) -> dict[str, Any]:
    """The OpenAPI request body of ``/predict``: records of each DataFrame input, lists otherwise."""
    properties = {}
    for name, parser in schema.inputs.items():
        adapter = getattr(parser, "adapter", None) or getattr(parser, "series", None)
        properties[name] = adapter.json_schema() if adapter is not None else {}
    body = {"type": "object", "properties": {"inputs": {"type": "object", "properties": properties,
                                                        "required": list(properties)}}}
    return {"required": True, "content": {"application/json": {"schema": body}}}
