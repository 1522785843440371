"""nb2prod monitor on synthetic production models and logs (real parquet, real scipy, real CLI)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from nb2prod.cli import cli
from nb2prod.config import MonitorSettings, load_config
from nb2prod.monitor.logs import parse_since, read_logs
from nb2prod.monitor.run import monitor
from nb2prod.train.gates import rules_for
from tests import monitorfactory as mf


def nb2prod(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (pyproject.toml) with a production model under models/."""
    (tmp_path / "pyproject.toml").write_text("[tool.nb2prod]\n", encoding="utf-8")
    mf.write_model(tmp_path / "models")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def log_path(project: Path) -> Path:
    return project / "models" / mf.NAME / "logs" / "predictions.jsonl"


def test_one_shifted_column_is_flagged_on_that_column_only(project: Path) -> None:
    rng = np.random.default_rng(1)
    mf.write_log(log_path(project), mf.log_lines(mf.draw(rng, 300, shift={"x6": 1.0}), rng))
    result = nb2prod("monitor", mf.NAME, "--json")
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    drifted = [d["column"] for d in out["input_drift"] if d["status"] == "drifted"]
    assert drifted == ["x6"]
    assert len(out["input_drift"]) == 12
    assert any("input drift in column 'x6'" in f for f in out["findings"])
    assert not [f for f in out["findings"] if "x6" not in f]  # quality and health are fine


def test_a_new_category_is_drift_in_that_column(project: Path) -> None:
    rng = np.random.default_rng(2)
    frame = mf.draw(rng, 300)
    frame.loc[frame.index[:120], "colour"] = "purple"
    mf.write_log(log_path(project), mf.log_lines(frame, rng))
    result = nb2prod("monitor", mf.NAME, "--json")
    out = json.loads(result.stdout)
    colour = next(d for d in out["input_drift"] if d["column"] == "colour")
    assert result.exit_code == 1
    assert colour["status"] == "drifted" and colour["new_values"] == ["purple"]
    assert [d["column"] for d in out["input_drift"] if d["status"] == "drifted"] == ["colour"]


def test_false_alarms_at_the_default_thresholds_are_at_most_5_percent(tmp_path: Path) -> None:
    """200 seeded logs drawn from the training distribution, monitored whole (drift, quality, health)."""
    root = tmp_path / "models"
    mf.write_model(root, rows=1000, seed=0)
    settings = MonitorSettings()
    alarms = []
    for k in range(200):
        rng = np.random.default_rng(10_000 + k)
        rows = int(rng.integers(settings.min_rows, 400))
        log = mf.write_log(tmp_path / f"log{k}.jsonl", mf.log_lines(mf.draw(rng, rows), rng))
        report = monitor(mf.NAME, root, [log], since=None, settings=settings, rules=[])
        assert report.quality is not None and report.quality.status == "ok"
        assert len(report.input_drift) == 12 and report.input_drift[0].status in ("ok", "drifted")
        alarms.append(bool(report.findings))
    rate = sum(alarms) / len(alarms)
    print(f"false alarms: {sum(alarms)} of {len(alarms)} ({rate:.1%})")
    assert rate <= 0.05


def test_feedback_worse_than_the_gate_exits_1_naming_the_metric(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.nb2prod.gates."*"]\nr2 = ">= 0.9"\nmae = { max_relative_drop = 5.0 }\n', encoding="utf-8"
    )
    rng = np.random.default_rng(3)
    frame = mf.draw(rng, 300)
    mf.write_log(log_path(project), mf.log_lines(frame, rng, noise=1.0))
    good = nb2prod("monitor", mf.NAME)
    assert good.exit_code == 0, good.output
    assert "quality r2: live 0.98" in good.output

    mf.write_log(log_path(project), mf.log_lines(frame, rng, noise=6.0))
    bad = nb2prod("monitor", mf.NAME, "--summary", project / "s.md")
    assert bad.exit_code == 1, bad.output
    assert "quality of 'r2' degraded: live gate r2 >= 0.9: 0.6" in bad.output
    assert "failed; training 0.98" in bad.output
    assert "'mae'" not in bad.output.split("requests")[0]  # within its 500% allowance
    assert "quality of 'r2' degraded" in (project / "s.md").read_text(encoding="utf-8")


def test_too_few_rows_is_not_enough_data_not_a_verdict(project: Path) -> None:
    rng = np.random.default_rng(4)
    frame = mf.draw(rng, 40, shift={"x1": 3.0})
    mf.write_log(log_path(project), mf.log_lines(frame, rng))
    result = nb2prod("monitor", mf.NAME, "--json")
    out = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert {d["status"] for d in out["input_drift"]} == {"not enough data"}
    assert "fewer than min_rows 100" in out["input_drift"][0]["reason"]
    assert out["quality"]["status"] == "ok"  # 40 outcomes >= min_feedback_rows 30
    assert any(n.startswith("drift: not enough data") for n in out["notes"])


def test_corrupt_and_truncated_lines_are_skipped_and_counted(project: Path) -> None:
    rng = np.random.default_rng(5)
    lines = mf.log_lines(mf.draw(rng, 200), rng)
    lines.insert(3, "this is not json")
    lines.insert(7, json.dumps({"kind": "prediction", "time": "2026-12-02T03:00:00Z"}))  # no request id
    lines.insert(9, json.dumps({"kind": "prediction", "request_id": "x", "time": "yesterday"}))
    lines.insert(11, "\udcff")  # not UTF-8 once written with surrogateescape
    path = log_path(project)
    path.parent.mkdir(parents=True)
    text = "".join(line + "\n" for line in lines) + lines[0][: len(lines[0]) // 2]  # cut mid-line
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    data = read_logs([path])
    assert data.skipped == 5
    assert any("truncated line" in s for s in data.skipped_examples)
    assert len(data.predictions) == 20 and len(data.feedback) == 20
    result = nb2prod("monitor", mf.NAME)
    assert result.exit_code == 0, result.output
    assert "5 log line(s) skipped" in result.output


def test_rotated_logs_are_read_oldest_first_and_since_filters(project: Path) -> None:
    rng = np.random.default_rng(6)
    path = log_path(project)
    old = mf.log_lines(mf.draw(rng, 100), rng, start=mf.START)
    new = mf.log_lines(mf.draw(rng, 100), rng, start=mf.START + timedelta(days=1))
    mf.write_log(path.with_name("predictions.jsonl.1"), old)
    mf.write_log(path, new)
    data = read_logs([path])
    assert [p.name for p in data.files] == ["predictions.jsonl.1", "predictions.jsonl"]
    assert len(data.predictions) == 20
    recent = read_logs([path], since=parse_since("2026-12-03"))
    assert len(recent.predictions) == 10 and recent.before_since == 20


def test_bad_since_and_missing_log_are_usage_errors(project: Path) -> None:
    result = nb2prod("monitor", mf.NAME, "--since", "last tuesday")
    assert result.exit_code == 2 and "is not a date" in result.output
    result = nb2prod("monitor", mf.NAME)
    assert result.exit_code == 2 and "no prediction log" in result.output
    result = nb2prod("monitor", "nothing", "--log", "x.jsonl")
    assert result.exit_code == 2 and "has no production model" in result.output


def test_failed_requests_and_slow_answers_are_health_findings(project: Path) -> None:
    rng = np.random.default_rng(7)
    lines = mf.log_lines(mf.draw(rng, 200), rng, latency=900.0)
    for k in range(3):
        lines.append(json.dumps({
            "kind": "prediction", "request_id": f"f{k}", "time": "2026-12-02T04:00:00Z",
            "model_id": mf.MODEL_ID, "status": "failed", "http_status": 500, "rows": 0,
            "payload": None, "outputs": None, "latency_ms": 3.0, "error": "ValueError: boom",
        }))
    mf.write_log(log_path(project), lines)
    result = nb2prod("monitor", mf.NAME, "--json")
    out = json.loads(result.stdout)
    assert result.exit_code == 1
    assert out["health"]["failed"] == 3 and out["health"]["errors"] == {"ValueError: boom": 3}
    assert any(f.startswith("health: failed requests 3 of 23") for f in out["findings"])
    assert any(f.startswith("health: latency p95") for f in out["findings"])


def test_export_inputs_writes_payloads_with_outcomes(project: Path) -> None:
    rng = np.random.default_rng(8)
    frame = mf.draw(rng, 120)
    lines = mf.log_lines(frame, rng)
    lines = [line for i, line in enumerate(lines) if not (i % 4 == 3)]  # every other feedback dropped
    mf.write_log(log_path(project), lines)
    result = nb2prod("monitor", mf.NAME, "--export-inputs", project / "data" / "live.parquet")
    assert "wrote" in result.output and "(120 rows)" in result.output
    exported = pd.read_parquet(project / "data" / "live.parquet")
    assert list(exported.columns[:12]) == [*mf.NUMERIC, *mf.CATEGORIES]
    assert {"outcome", "prediction_y_pred", "request_id", "logged_at"} <= set(exported.columns)
    assert exported["outcome"].notna().sum() == 60
    np.testing.assert_allclose(exported[mf.NUMERIC].to_numpy(), frame[mf.NUMERIC].to_numpy())


def test_requests_from_other_models_are_not_judged(project: Path) -> None:
    rng = np.random.default_rng(9)
    lines = mf.log_lines(mf.draw(rng, 200, shift={"x2": 2.0}), rng, model_id="m20261101T000000-000000")
    lines += mf.log_lines(mf.draw(rng, 200), rng)
    mf.write_log(log_path(project), lines)
    report = monitor(mf.NAME, project / "models", None, since=None, settings=MonitorSettings(),
                     rules=rules_for(load_config().gates, mf.NAME))
    assert report.other_models == 20 and not report.findings


def test_class_labels_and_probabilities_line_up_with_reference_outputs() -> None:
    from nb2prod.monitor.drift import compare_column
    from nb2prod.monitor.frames import _output_columns

    columns = _output_columns({"y_pred": [0, 2], "proba": [[0.9, 0.1], [0.2, 0.8]], "classes": [0, 1, 2]},
                              ["y_pred", "proba", "classes"], 2)
    assert columns == {"y_pred": [0, 2], "proba[0]": [0.9, 0.2], "proba[1]": [0.1, 0.8]}
    rng = np.random.default_rng(0)
    labels = pd.Series(rng.integers(0, 3, 300))
    live = pd.Series(rng.integers(0, 3, 200).astype(float))  # logged as 1.0: still label "1"
    same = compare_column("y_pred", labels, live, MonitorSettings())
    assert (same.kind, same.status, same.new_values) == ("categorical", "ok", [])
    skewed = compare_column("y_pred", labels, pd.Series([2] * 150 + [0] * 50), MonitorSettings())
    assert skewed.status == "drifted" and skewed.test == "chi-squared"


def test_a_column_that_arrives_empty_is_drift_not_silence() -> None:
    from nb2prod.monitor.drift import compare_column

    rng = np.random.default_rng(1)
    ref = pd.Series(rng.normal(size=500))
    live = pd.Series([None] * 80 + list(rng.normal(size=120)), dtype=float)
    result = compare_column("x", ref, live, MonitorSettings())
    assert result.status == "drifted" and result.reason.startswith("40% of the live values are missing")
    fine = compare_column("x", ref, pd.Series([None] * 5 + list(rng.normal(size=195))), MonitorSettings())
    assert fine.status == "ok"


def test_an_edited_reference_sample_is_refused(project: Path) -> None:
    rng = np.random.default_rng(10)
    mf.write_log(log_path(project), mf.log_lines(mf.draw(rng, 200), rng))
    reference = project / "models" / mf.NAME / mf.MODEL_ID / "reference.parquet"
    mf.draw(rng, 1000, shift={"x0": 5.0}).to_parquet(reference, index=False)
    result = nb2prod("monitor", mf.NAME)
    assert result.exit_code == 1
    assert "reference.parquet does not match the sha256 in its model card" in result.output
