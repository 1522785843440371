"""`nb2prod serve` as consumers meet it: a real uvicorn process on a free loopback port, a real httpx client.

The example is trained once (``nb2prod train --promote`` in a scratch copy of the project); every
server here is its own ``python -m nb2prod serve`` process, stopped with SIGTERM like a deployment.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from serve_helpers import NAME, env, log_lines, nb2prod, production, reference, trained_project

from nb2prod.serve.parity import ServerProcess

TOKEN_ENV = "NB2PROD_TEST_TOKEN"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_project(tmp_path_factory.mktemp("serve-project"))


@pytest.fixture(scope="module")
def server(project: Path):
    """One guarded server for the request tests: token from the environment, the default limits."""
    with ServerProcess(NAME, models="models", cwd=project, env={**env(), TOKEN_ENV: "s3cret-token"},
                       args=("--token-env", TOKEN_ENV)) as running:
        yield running


def auth() -> dict[str, str]:
    return {"Authorization": "Bearer s3cret-token"}


def test_predictions_over_http_equal_the_notebooks(project: Path, server: ServerProcess) -> None:
    body, expected = reference(project)
    answer = httpx.post(f"{server.url}/predict", json=body, headers=auth(), timeout=60)
    assert answer.status_code == 200, answer.text
    got = answer.json()
    card, _ = production(project)
    assert got["model_id"] == card["model_id"] and len(got["request_id"]) == 32
    served = np.array(got["outputs"]["y_pred"])
    # The training run's outputs for the same rows, and the pipeline itself (whose parity with the
    # notebook `nb2prod test` proves), with the parity tolerance (JSON floats round-trip exactly;
    # a frame laid out otherwise than the notebook's can move BLAS by an ulp).
    np.testing.assert_allclose(served, expected["y_pred"].to_numpy(), rtol=1e-7, atol=0)
    import importlib
    import sys

    sys.path.insert(0, str(project))
    try:
        pipeline = importlib.import_module(f"generated.{NAME}.{card['code']['version']}.pipeline")
        np.testing.assert_allclose(served, pipeline.run()["y_pred"], rtol=1e-7, atol=0)
    finally:
        sys.path.remove(str(project))
        for module in [m for m in sys.modules if m == "generated" or m.startswith("generated.")]:
            del sys.modules[module]
    split = {"dataframe_split": {"columns": list(body["inputs"]["X_test"][0]),
                                 "data": [list(r.values()) for r in body["inputs"]["X_test"]]}}
    again = httpx.post(f"{server.url}/predict", json=split, headers=auth(), timeout=60).json()
    assert again["outputs"] == got["outputs"]  # MLflow's shape gets the same answer
    meta = httpx.get(f"{server.url}/metadata", headers=auth()).json()
    assert meta["model_id"] == card["model_id"] and meta["code"]["version"] == card["code"]["version"]
    assert meta["metrics"] == card["metrics"] and meta["payload"] == card["payload"]


def test_bad_requests_are_refused_naming_the_field_and_the_server_keeps_answering(project: Path, server: ServerProcess) -> None:
    body, _ = reference(project)
    row = body["inputs"]["X_test"][0]
    first = next(iter(row))
    url = f"{server.url}/predict"
    cases = [
        (b'{"inputs": {"X_test": [{', 400, "malformed JSON"),
        (json.dumps({"inputs": {"X_test": [{k: v for k, v in row.items() if k != first}]}}), 422,
         f"column {first!r}: missing"),
        (json.dumps({"inputs": {"X_test": [{**row, "surprise": 1}]}}), 422, "column 'surprise': unknown column"),
        (json.dumps({"inputs": {"X_test": [{**row, first: "forty"}]}}), 422, f"column {first!r}: Input should be a valid number"),
        (json.dumps({"inputs": {"X_test": [row]}}).replace(json.dumps(row[first]), "NaN", 1), 422, f"column {first!r}: NaN"),
        (json.dumps({"inputs": {"X_test": []}}), 422, "the batch is empty"),
        (b"[" + b"1," * (26 * 2**20) + b"1]", 413, "over the limit of 52428800 bytes"),
    ]
    for content, status, names in cases:
        answer = httpx.post(url, content=content, headers={**auth(), "Content-Type": "application/json"}, timeout=120)
        assert answer.status_code == status, (names, answer.text)
        assert names in answer.json()["error"], answer.text
        assert httpx.post(url, json=body, headers=auth(), timeout=60).status_code == 200  # still up
    lines = log_lines(project / "models" / NAME / "logs" / "predictions.jsonl")
    rejected = [line for line in lines if line["status"] == "rejected"]
    assert [line["http_status"] for line in rejected[-len(cases):]] == [status for _, status, _ in cases]
    assert all(line["error"] and line["payload"] is None for line in rejected)


def test_token_guards_everything_but_health(server: ServerProcess) -> None:
    for method, route in [("POST", "/predict"), ("POST", "/feedback"), ("GET", "/metadata"), ("GET", "/metrics")]:
        assert httpx.request(method, server.url + route).status_code == 401
        assert httpx.request(method, server.url + route, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert httpx.get(f"{server.url}/health").status_code == 200
    text = httpx.get(f"{server.url}/metrics", headers=auth()).text
    assert 'nb2prod_requests_total{model_id="' in text and "nb2prod_request_latency_seconds_bucket" in text


def test_feedback_is_logged_against_its_request(project: Path, server: ServerProcess) -> None:
    body, expected = reference(project)
    answer = httpx.post(f"{server.url}/predict", json=body, headers=auth(), timeout=60).json()
    outcome = [round(v) for v in expected["y_pred"]]
    done = httpx.post(f"{server.url}/feedback", json={"request_id": answer["request_id"], "outcome": outcome},
                      headers=auth())
    assert done.status_code == 200 and done.json()["rows"] == len(outcome)
    last = log_lines(project / "models" / NAME / "logs" / "predictions.jsonl")[-1]
    assert (last["kind"], last["request_id"], last["outcome"]) == ("feedback", answer["request_id"], outcome)


async def _hammer(url: str, body: dict, clients: int, total: int, stop_on_error: bool = False) -> list[int]:
    """``total`` posts from ``clients`` concurrent connections; the status of each answered one."""
    statuses: list[int] = []
    left = total

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            try:
                answer = await http.post(url, json=body)
            except httpx.HTTPError:
                if stop_on_error:
                    return
                raise
            statuses.append(answer.status_code)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return statuses


def test_two_workers_log_every_one_of_2000_concurrent_requests(project: Path, tmp_path: Path) -> None:
    body, _ = reference(project)
    one_row = {"inputs": {"X_test": body["inputs"]["X_test"][:1]}}
    log = tmp_path / "load.jsonl"
    with ServerProcess(NAME, models="models", cwd=project, env=env(),
                       args=("--workers", "2", "--log", str(log))) as server:
        statuses = asyncio.run(_hammer(f"{server.url}/predict", one_row, clients=16, total=2000))
        metrics = httpx.get(f"{server.url}/metrics").text
        assert server.stop() == 0
    assert statuses == [200] * 2000
    lines = log_lines(log)
    assert len(lines) == 2000 and len({line["request_id"] for line in lines}) == 2000
    assert all(line["status"] == "ok" and line["rows"] == 1 and line["outputs"]["y_pred"] for line in lines)
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    # /metrics in either worker counts both workers' requests (prometheus multiprocess mode)
    count = [line for line in metrics.splitlines() if line.startswith('nb2prod_requests_total{') and 'status="200"' in line]
    assert count and float(count[0].rsplit(" ", 1)[1]) == 2000.0


def test_sigterm_mid_load_exits_0_with_the_log_complete_and_no_orphan(project: Path, tmp_path: Path) -> None:
    body, _ = reference(project)
    log = tmp_path / "term.jsonl"
    server = ServerProcess(NAME, models="models", cwd=project, env=env(), args=("--workers", "2", "--log", str(log)))
    server.start()
    parent = psutil.Process(server.proc.pid)
    family = [parent, *parent.children(recursive=True)]
    assert len(family) >= 3  # the supervisor and its two workers
    answered: list[int] = []
    loader = threading.Thread(target=lambda: answered.extend(asyncio.run(
        _hammer(f"{server.url}/predict", body, clients=16, total=100_000, stop_on_error=True))))
    loader.start()
    time.sleep(1.5)
    assert server.stop() == 0  # SIGTERM, as a deployment stops it
    loader.join(60)
    assert not loader.is_alive()
    assert answered and set(answered) == {200}
    lines = log_lines(log)  # every line whole, including the last
    ok = [line for line in lines if line["status"] == "ok"]
    assert len(answered) <= len(ok) <= len(answered) + 16  # every answered request is logged
    time.sleep(0.5)
    assert [p.pid for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []


def test_open_host_without_token_warns(project: Path) -> None:
    with ServerProcess(NAME, models="models", cwd=project, env=env(), args=("--host", "0.0.0.0")) as server:
        assert server.url.startswith("http://0.0.0.0:")
        code = server.stop()
        assert code == 0
        assert "no --token-env: anyone who can reach this port" in server.stderr()


def test_a_tampered_model_is_never_served(project: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "models"
    shutil.copytree(project / "models", copy)
    card, folder = production(project)
    [entry] = card["models"].values()
    target = copy / NAME / folder.name / entry["file"]
    target.write_bytes(target.read_bytes() + b"\0")
    done = nb2prod("serve", NAME, "--models", str(copy), "--port", "0", cwd=project, check=False, timeout=120)
    assert done.returncode == 1, done.stderr
    assert entry["file"] in done.stderr and "Traceback" not in done.stderr
    assert "serving" not in done.stdout


def test_no_production_model_is_a_clear_error(project: Path, tmp_path: Path) -> None:
    done = nb2prod("serve", "nothing_here", "--models", str(tmp_path), cwd=project, check=False)
    assert done.returncode == 2 and "has no production model" in done.stderr and "Traceback" not in done.stderr
    unset = nb2prod("serve", NAME, "--models", "models", "--token-env", "NB2PROD_UNSET_VAR", cwd=project, check=False)
    assert unset.returncode == 2 and "NB2PROD_UNSET_VAR" in unset.stderr
