"""The app in-process (httpx's ASGI transport): answers, refusals, auth, limits, the log and metrics."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from nb2prod.serve.app import AppSettings, create_app
from nb2prod.serve.log import PredictionLog
from nb2prod.serve.schema import frame_records
from tests.unit.serve.models import ArrayModel, FrameModel


class AppClient:
    """httpx's ASGI transport driven synchronously (starlette's AppClient deprecates plain httpx)."""

    def __init__(self, app: object) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        self.headers = self.client.headers

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()

    def get(self, url: str, **kwargs: object) -> httpx.Response:
        return self.loop.run_until_complete(self.client.get(url, **kwargs))

    def post(self, url: str, **kwargs: object) -> httpx.Response:
        return self.loop.run_until_complete(self.client.post(url, **kwargs))


MODEL = FrameModel()
ROWS = frame_records(MODEL.frame.head(5))


@pytest.fixture()
def served(tmp_path: Path):
    log = PredictionLog(tmp_path / "predictions.jsonl")
    app = create_app(MODEL, AppSettings(token="s3cret", max_body_bytes=10_000, log=log))
    with AppClient(app) as client:
        client.headers["Authorization"] = "Bearer s3cret"
        yield client, tmp_path / "predictions.jsonl"
    log.close()


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_predict_answers_what_the_model_predicts_and_logs_it(served) -> None:
    client, log = served
    answer = client.post("/predict", json={"inputs": {"X_test": ROWS}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model_id"] == MODEL.card["model_id"]
    expected = MODEL.model.predict(MODEL.frame.head(5))
    np.testing.assert_array_equal(np.array(body["outputs"]["y_pred"]), expected)  # JSON floats round-trip exactly
    [line] = lines(log)
    assert line["request_id"] == body["request_id"] == answer.headers["x-request-id"]
    assert (line["kind"], line["status"], line["http_status"], line["rows"]) == ("prediction", "ok", 200, 5)
    assert line["payload"]["X_test"] == ROWS and line["outputs"] == body["outputs"]
    assert line["code_version"] == "v1" and line["latency_ms"] > 0 and line["time"].endswith("Z")


@pytest.mark.parametrize(("body", "status", "names"), [
    (b'{"inputs": {"X_test": [', 400, "malformed JSON at line 1, column 24"),
    (b"", 400, "the body is empty"),
    (b"{\"inputs\": \"caf\xe9\"}", 400, "not UTF-8"),
    (json.dumps({"inputs": {"X_test": []}}).encode(), 422, "the batch is empty"),
    (json.dumps({"inputs": {"X_test": [{**ROWS[0], "extra": 1}]}}).encode(), 422, "column 'extra'"),
    (json.dumps({"inputs": {"X_test": [{**ROWS[0], "age": "old"}]}}).encode(), 422, "column 'age'"),
    (b'{"inputs": {"X_test": [{"age": NaN, "bmi": 1, "visits": 1, "sex": "f"}]}}', 422, "column 'age': NaN"),
    (b"x" * 20_000, 413, "over the limit of 10000 bytes"),
])
def test_bad_requests_get_4xx_naming_the_field_and_are_logged(served, body: bytes, status: int, names: str) -> None:
    client, log = served
    answer = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status and names in answer.json()["error"], answer.text
    [line] = lines(log)
    assert (line["status"], line["http_status"], line["payload"]) == ("rejected", status, None)
    assert names in line["error"]
    assert client.post("/predict", json={"inputs": {"X_test": ROWS[:1]}}).status_code == 200


def test_a_model_that_raises_is_a_500_with_the_request_id(served) -> None:
    client, log = served
    answer = client.post("/predict", json={"inputs": {"X_test": [{**ROWS[0], "age": -5000}]}})
    assert answer.status_code == 500
    body = answer.json()
    assert "ValueError: age below -1000 is not a person" in body["error"]
    [line] = lines(log)
    assert (line["request_id"], line["status"]) == (body["request_id"], "failed")
    assert "age below -1000" in line["error"] and line["payload"]["X_test"][0]["age"] == -5000.0
    assert client.post("/predict", json={"inputs": {"X_test": ROWS}}).status_code == 200


def test_token_guards_every_route_but_health(served) -> None:
    client, _ = served
    for method, route in [("post", "/predict"), ("post", "/feedback"), ("get", "/metadata"), ("get", "/metrics")]:
        bare = getattr(client, method)(route, headers={"Authorization": ""})
        assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"
        wrong = getattr(client, method)(route, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
    assert client.get("/health", headers={"Authorization": ""}).json()["status"] == "ok"


def test_feedback_metadata_and_metrics(served) -> None:
    client, log = served
    request_id = client.post("/predict", json={"inputs": {"X_test": ROWS}}).json()["request_id"]
    client.post("/predict", json={"inputs": {"X_test": []}})
    done = client.post("/feedback", json={"request_id": request_id, "outcome": [1, 2, 3, 4, 5]})
    assert done.status_code == 200 and done.json()["rows"] == 5
    assert client.post("/feedback", json={"request_id": "nope", "outcome": [1]}).status_code == 422
    assert client.post("/feedback", json={"request_id": request_id}).status_code == 422
    feedback = lines(log)[-1]
    assert feedback["kind"] == "feedback" and feedback["outcome"] == [1, 2, 3, 4, 5]
    meta = client.get("/metadata").json()
    assert meta["model_id"] == MODEL.card["model_id"] and meta["code"]["version"] == "v1"
    assert meta["payload"]["X_test"]["columns"]["sex"]["categories"] == ["f", "m"]
    text = client.get("/metrics").text
    model_id = MODEL.card["model_id"]
    assert f'nb2prod_requests_total{{model_id="{model_id}",route="/predict",status="200"}} 1.0' in text
    assert f'nb2prod_requests_total{{model_id="{model_id}",route="/predict",status="422"}} 1.0' in text
    assert f'nb2prod_rows_predicted_total{{model_id="{model_id}"}} 5.0' in text
    assert "nb2prod_request_latency_seconds_bucket" in text
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "X_test" in body["properties"]["inputs"]["properties"]


def test_arrays_without_a_token_or_a_log() -> None:
    model = ArrayModel()
    with AppClient(create_app(model)) as client:
        answer = client.post("/predict", json={"inputs": {"X": model.X[:3].tolist()}})
        assert answer.status_code == 200
        assert answer.json()["outputs"]["y_pred"] == model.model.predict(model.X[:3]).tolist()
        assert client.get("/metadata").status_code == 200
