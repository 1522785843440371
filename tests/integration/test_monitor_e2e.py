"""The loop as a new user meets it: train and serve the example, send shifted traffic and feedback,
and `nb2prod monitor` exits 1 naming the drifted column and the degraded metric.

Real everything: `nb2prod train --promote`, a `nb2prod serve` uvicorn process, httpx posts, the log
the server wrote, and `nb2prod monitor` as a subprocess.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from serve_helpers import NAME, env, nb2prod, production, trained_project
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

from nb2prod.serve.parity import ServerProcess

pytestmark = pytest.mark.kernel



def test_shifted_traffic_and_bad_feedback_make_monitor_exit_1(tmp_path: Path) -> None:
    project = trained_project(tmp_path / "project")
    card, _ = production(project)
    with (project / "pyproject.toml").open("a", encoding="utf-8") as toml:
        toml.write(f'\n[tool.nb2prod.gates.{NAME}]\nr2 = ">= 0.4"\n')
    # the notebook's own split (test_size 0.25, random_state 42): X_test and its true outcomes
    data = load_diabetes(as_frame=True).frame
    _, X_test, _, y_test = train_test_split(data.drop(columns="target"), data["target"],
                                            test_size=0.25, random_state=42)
    columns = list(card["payload"]["X_test"]["columns"])
    rng = np.random.default_rng(0)
    with ServerProcess(NAME, models="models", cwd=project, env=env()) as server:
        for phase in ("normal", "shifted"):
            frame = X_test[columns].copy()
            if phase == "shifted":  # the clinic's scale changed: bmi arrives two sd higher
                frame["bmi"] = frame["bmi"] + 2 * data["bmi"].std()
            for part in np.array_split(np.arange(len(frame)), 12):
                rows = frame.iloc[part]
                body = {"inputs": {"X_test": rows.to_dict(orient="records")}}
                answer = httpx.post(f"{server.url}/predict", json=body, timeout=60)
                assert answer.status_code == 200, answer.text
                outcome = y_test.iloc[part].astype(float) + rng.normal(0, 5, len(part))
                done = httpx.post(f"{server.url}/feedback", timeout=60, json={
                    "request_id": answer.json()["request_id"], "outcome": outcome.tolist()})
                assert done.status_code == 200, done.text
            if phase == "normal":
                calm = nb2prod("monitor", NAME, "--models", "models", cwd=project, check=False)
                assert calm.returncode == 0, calm.stdout + calm.stderr
                assert "OK against" in calm.stdout
                since = pd.Timestamp.now(tz="UTC").isoformat()

    result = nb2prod("monitor", NAME, "--models", "models", "--since", since, "--json",
                     "--report", "monitor.html", "--summary", "monitor.md", cwd=project, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    out = json.loads(result.stdout)
    assert out["model_id"] == card["model_id"] and out["logs"]["skipped_lines"] == 0
    drifted = [d["column"] for d in out["input_drift"] if d["status"] == "drifted"]
    assert drifted == ["bmi"]
    findings = "\n".join(out["findings"])
    assert "input drift in column 'bmi'" in findings
    assert "quality of 'r2' degraded: live gate r2 >= 0.4: " in findings
    assert out["quality"]["rows"] == len(X_test)
    page = (project / "monitor.html").read_text(encoding="utf-8")
    assert "Time to retrain: input drift in column &#x27;bmi&#x27;" in page
    assert "quality of &#x27;r2&#x27; degraded" in page
    assert "input drift in column 'bmi'" in (project / "monitor.md").read_text(encoding="utf-8")


def test_exported_inputs_feed_the_next_training_and_its_card_records_them(tmp_path: Path) -> None:
    """monitor --export-inputs writes a parquet file; a notebook trains on it; the card names it."""
    import hashlib

    from tests import monitorfactory as mf
    from tests.nbfactory import write_notebook

    (tmp_path / "pyproject.toml").write_text("[tool.nb2prod]\n", encoding="utf-8")
    mf.write_model(tmp_path / "models")
    rng = np.random.default_rng(0)
    mf.write_log(tmp_path / "models" / mf.NAME / "logs" / "predictions.jsonl",
                 mf.log_lines(mf.draw(rng, 200), rng))
    exported = tmp_path / "notebooks" / "data" / "live.parquet"
    done = nb2prod("monitor", mf.NAME, "--export-inputs", str(exported), cwd=tmp_path, check=False)
    assert done.returncode == 0 and "(200 rows)" in done.stdout, done.stdout + done.stderr
    write_notebook(tmp_path / "notebooks", [
        ("import pandas as pd\nfrom sklearn.linear_model import LinearRegression\n"
         "from sklearn.metrics import r2_score", ["imports"]),
        ("fit_intercept = True", ["parameters"]),
        ('df = pd.read_parquet("data/live.parquet")\ndf = df[df["outcome"].notna()]\n'
         'X = df[["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9"]]\ny = df["outcome"].astype(float)',
         ["step:load"]),
        ("model = LinearRegression(fit_intercept=fit_intercept).fit(X, y)", ["step:train", "model:model"]),
        ("y_pred = model.predict(X)", ["step:predict", "parity:y_pred", "inference"]),
        ("r2 = float(r2_score(y, y_pred))", ["step:score", "metric:r2"]),
    ], name="retrain.ipynb")
    nb2prod("build", "notebooks", cwd=tmp_path)
    trained = nb2prod("train", "notebooks/retrain.ipynb", cwd=tmp_path)
    card_file = next((tmp_path / "models" / "retrain").glob("m*/card.json"))
    card = json.loads(card_file.read_text(encoding="utf-8"))
    sha = hashlib.sha256(exported.read_bytes()).hexdigest()
    assert [(Path(f["path"]).name, f["sha256"]) for f in card["data_files"]] == [("live.parquet", sha)]
    assert card["metrics"]["r2"] > 0.9, trained.stdout
