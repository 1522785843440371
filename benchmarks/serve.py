"""Serving benchmark: `nb2prod serve` against the in-process floor and `mlflow models serve`, side by side.

For 1-row and 1,000-row requests at 1 and 16 concurrent clients (an async httpx client), it measures
requests per second and p50/p99 latency of each server, in rounds that alternate the servers (A B B A)
so both see the same machine load, and prints every ratio: p50 overhead over calling the generated
``predict`` in-process on the same rows (target <= 2 ms for 1 row) and throughput against MLflow's
scoring server on the same model (target >= 1.0x; only when mlflow is importable here or given with
``--mlflow-python``). Both servers get the same body (MLflow's ``dataframe_split``), one worker each.

    python benchmarks/serve.py                  # trains diabetes_regression in a scratch copy first
    python benchmarks/serve.py --models DIR --name NAME --requests 400
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start(argv: list[str], env: dict[str, str], cwd: Path, url_from_stdout: bool, port: int = 0) -> tuple[subprocess.Popen, str]:
    # A pipe nobody reads fills up and blocks the server (MLflow's access log goes to stdout).
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE if url_from_stdout else subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    if url_from_stdout:
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split(" ", 1)[0] if " on http" in line else ""
        if not url:
            proc.kill()
            raise RuntimeError(f"{argv[:4]} did not start: {line!r}")
    else:
        url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health" if url_from_stdout else f"{url}/ping", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{argv[:4]} exited with {proc.returncode}")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{argv[:4]} never became healthy")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def load(url: str, body: bytes, clients: int, requests: int) -> tuple[float, list[float]]:
    """Requests per second and each request's latency (s) with ``clients`` concurrent connections."""
    import httpx

    latencies: list[float] = []
    remaining = requests
    headers = {"Content-Type": "application/json"}

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            answer = await http.post(url, content=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if answer.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {answer.status_code}: {answer.text[:300]}")

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=300) as http:
        for _ in range(clients):  # warm connections
            await http.post(url, content=body, headers=headers)
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - started
    return requests / wall, latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def floor_latency(model: Any, name: str, frame: Any, repeat: int) -> tuple[float, float]:
    """Median seconds of the generated ``predict`` in-process on the same rows (the DataFrame ready),
    and its CPU seconds per call."""
    model.predict(**{name: frame})
    times = []
    cpu = time.process_time()
    for _ in range(repeat):
        started = time.perf_counter()
        model.predict(**{name: frame})
        times.append(time.perf_counter() - started)
    return statistics.median(times), (time.process_time() - cpu) / repeat


def _cpu(pid: int) -> float:
    """CPU seconds of a server and its children: what a request costs, whatever the machine's load."""
    import psutil

    process = psutil.Process(pid)
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def train_example(scratch: Path, notebook: str) -> Path:
    for part in ("notebooks", "generated", "pyproject.toml"):
        source = ROOT / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, scratch / part)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "nb2prod", "train", f"notebooks/{notebook}.ipynb", "--promote",
                    "--models", "models"], cwd=scratch, env=env, check=True, capture_output=True)
    return scratch / "models"


def mlflow_model(python: str, model_file: Path, out: Path) -> None:
    """Save the same fitted estimator as an MLflow sklearn model (pickle of the very object we serve)."""
    code = ("import pickle, sys, mlflow.sklearn; "
            "mlflow.sklearn.save_model(pickle.load(open(sys.argv[1], 'rb')), sys.argv[2])")
    subprocess.run([python, "-c", code, str(model_file), str(out)], check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/serve.py", description=__doc__.split("\n")[0])
    parser.add_argument("--models", help="an existing model store (default: train the example in a scratch copy)")
    parser.add_argument("--name", default="diabetes_regression")
    parser.add_argument("--requests", type=int, default=600, help="requests per server per case and round")
    parser.add_argument("--rounds", type=int, default=2, help="A B rounds per case (alternating order)")
    parser.add_argument("--mlflow-python", default=None, help="an interpreter with mlflow (default: this one, if it has it)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)

    import pandas as pd

    from nb2prod.serve.schema import jsonable
    from nb2prod.train.store import ModelStore

    scratch = Path(tempfile.mkdtemp(prefix="nb2prod-bench-serve-"))
    try:
        models = Path(args.models).resolve() if args.models else train_example(scratch, args.name)
        project = Path.cwd() if args.models else scratch  # where generated/ is
        store = ModelStore(models)
        model_id = store.production_id(args.name)
        os.chdir(project)
        loaded = store.load(args.name, model_id)
        card = loaded.card
        folder = models / args.name / model_id
        input_name = card["reference"]["input"]
        reference = pd.read_parquet(folder / card["reference"]["payload"])
        big = reference.sample(1000, replace=True, random_state=0).reset_index(drop=True)
        frames = {1: reference.head(1).reset_index(drop=True), 1000: big}
        bodies = {n: json.dumps({"dataframe_split": {"columns": list(f.columns), "data": [
            [jsonable(v) for v in row] for row in f.itertuples(index=False)]}}).encode() for n, f in frames.items()}
        measured = {n: floor_latency(loaded, input_name, f, 200 if n == 1 else 50) for n, f in frames.items()}
        floors = {n: wall for n, (wall, _) in measured.items()}
        floor_cpu = {n: cpu for n, (_, cpu) in measured.items()}

        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        servers: dict[str, tuple[subprocess.Popen, str]] = {}
        results: dict[tuple[str, int, int], dict[str, list[float]]] = {}
        try:
            proc, url = start([sys.executable, "-m", "nb2prod", "serve", args.name, "--models", str(models),
                               "--port", "0", "--log", str(scratch / "bench.jsonl")], env, project, True)
            servers["nb2prod"] = (proc, f"{url}/predict")
            mlflow_python = args.mlflow_python or (sys.executable if _has_mlflow(sys.executable) else None)
            if mlflow_python:
                import pickle

                [var] = card["models"]
                pickled = scratch / "model.pkl"
                pickled.write_bytes(pickle.dumps(loaded.models[var]))
                mlflow_model(mlflow_python, pickled, scratch / "mlflow-model")
                port = _free_port()
                bin_dir = str(Path(mlflow_python).parent)  # mlflow runs `uvicorn` from PATH
                mlflow_env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
                              "MLFLOW_TRACKING_URI": f"file://{scratch}/mlruns"}
                mlflow_env.pop("PYTHONPATH", None)
                proc, url = start([str(Path(bin_dir) / "mlflow"), "models", "serve", "-m", str(scratch / "mlflow-model"),
                                   "--env-manager", "local", "-p", str(port), "-h", "127.0.0.1", "-w", "1"],
                                  mlflow_env, scratch, False, port)
                servers["mlflow"] = (proc, f"{url}/invocations")
            for rows in (1, 1000):
                for clients in (1, 16):
                    count = args.requests if rows == 1 else max(50, args.requests // 6)
                    order = list(servers)
                    for round_ in range(args.rounds):
                        for side in order if round_ % 2 == 0 else order[::-1]:
                            print(f"  {side}: {rows} row(s), {clients} client(s), {count} requests",
                                  file=sys.stderr, flush=True)
                            cpu_before = _cpu(servers[side][0].pid)
                            rps, lat = asyncio.run(load(servers[side][1], bodies[rows], clients, count))
                            slot = results.setdefault((side, rows, clients), {"rps": [], "lat": [], "cpu": []})
                            slot["cpu"].append((_cpu(servers[side][0].pid) - cpu_before) / (count + clients))
                            slot["rps"].append(rps)
                            slot["lat"].extend(lat)
        finally:
            for proc, _ in servers.values():
                stop(proc)
        return _report(results, floors, floor_cpu, "mlflow" in servers, args.markdown)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _report(results: dict, floors: dict[int, float], floor_cpu: dict[int, float], mlflow: bool,
            markdown: bool) -> int:
    ok = True
    rows_out = []
    for (side, rows, clients), slot in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
        rows_out.append((f"{side}, {rows} row(s), {clients} client(s)", f"{statistics.median(slot['rps']):.0f} req/s",
                         f"p50 {pct(slot['lat'], 0.5) * 1000:.2f} ms", f"p99 {pct(slot['lat'], 0.99) * 1000:.2f} ms",
                         f"CPU {statistics.median(slot['cpu']) * 1000:.2f} ms/req"))
    figures = []
    for rows in (1, 1000):
        ours = pct(results[("nb2prod", rows, 1)]["lat"], 0.5)
        overhead = (ours - floors[rows]) * 1000
        target = 2.0 if rows == 1 else None
        passed = overhead <= target if target else True
        ok &= passed
        figures.append((f"p50 overhead over in-process predict, {rows} row(s), 1 client",
                        f"{ours * 1000:.2f} ms", f"{floors[rows] * 1000:.2f} ms (floor)", f"+{overhead:.2f} ms",
                        f"<= {target} ms" if target else "-", "PASS" if passed else ("FAIL" if target else "-")))
        cpu = statistics.median(results[("nb2prod", rows, 1)]["cpu"])
        cpu_overhead = (cpu - floor_cpu[rows]) * 1000
        figures.append((f"server CPU per request over in-process predict, {rows} row(s), 1 client",
                        f"{cpu * 1000:.2f} ms", f"{floor_cpu[rows] * 1000:.2f} ms (floor)", f"+{cpu_overhead:.2f} ms",
                        f"<= {target} ms" if target else "-",
                        ("PASS" if cpu_overhead <= target else "FAIL") if target else "-"))
        for clients in (1, 16):
            if mlflow:
                ratio = statistics.median(results[("nb2prod", rows, clients)]["rps"]) / statistics.median(
                    results[("mlflow", rows, clients)]["rps"])
                ok &= ratio >= 1.0
                figures.append((f"throughput / mlflow models serve, {rows} row(s), {clients} client(s)",
                                f"{statistics.median(results[('nb2prod', rows, clients)]['rps']):.0f} req/s",
                                f"{statistics.median(results[('mlflow', rows, clients)]['rps']):.0f} req/s",
                                f"{ratio:.2f}x", ">= 1.0x", "PASS" if ratio >= 1.0 else "FAIL"))
    if not mlflow:
        figures.append(("throughput / mlflow models serve", "-", "mlflow not installed", "-", ">= 1.0x", "SKIPPED"))
    if markdown:
        print("| figure | nb2prod | baseline | ratio | target | result |\n|---|---|---|---|---|---|")
        for row in figures:
            print("| " + " | ".join(row) + " |")
        print("\n| server, case | throughput | p50 | p99 | server CPU |\n|---|---|---|---|---|")
        for row in rows_out:
            print("| " + " | ".join(row) + " |")
    else:
        for row in rows_out:
            print("  ".join(f"{cell:<34}" if i == 0 else f"{cell:>14}" for i, cell in enumerate(row)))
        print()
        for row in figures:
            print(f"{row[0]:<66} {row[1]:>12} {row[2]:>22} {row[3]:>10} {row[4]:>10} {row[5]}")
    return 0 if ok else 1


def _has_mlflow(python: str) -> bool:
    return subprocess.run([python, "-c", "import mlflow"], capture_output=True).returncode == 0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
