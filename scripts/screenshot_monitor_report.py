"""Render a realistic monitor report (drift, degraded quality, latency) and photograph it in Chromium.

Why: the monitor's HTML page is read by people deciding whether to retrain, so it is checked the way
they see it. A synthetic production model and three hours of logs (the third with a shifted column,
worse outcomes, slower answers and a few failures) go through the real ``nb2prod.monitor``.
Usage: ``python scripts/screenshot_monitor_report.py [--out DIR] [--chromium PATH]``; prints the PNG
path. tests/unit/monitor/test_report_html.py runs it when Chromium is installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from nb2prod.config import MonitorSettings  # noqa: E402
from nb2prod.monitor.report_html import write_html  # noqa: E402
from nb2prod.monitor.run import monitor, write_json  # noqa: E402
from nb2prod.monitor.summary import write_markdown  # noqa: E402
from scripts.screenshot_report import screenshot  # noqa: E402
from tests import monitorfactory as mf  # noqa: E402


def sample(out: Path) -> Path:
    """Write the model and log under OUT, run the monitor, write HTML, Markdown and JSON."""
    models = out / "models"
    shutil.rmtree(models, ignore_errors=True)
    mf.write_model(models)
    rng = np.random.default_rng(7)
    step = timedelta(minutes=2)
    lines = mf.log_lines(mf.draw(rng, 600), rng, step=step)
    later = mf.START + timedelta(hours=2)
    lines += mf.log_lines(mf.draw(rng, 300, shift={"x4": 1.5}), rng, noise=5.0, step=step, start=later,
                          latency=60.0)
    for k in range(8):
        lines.append(json.dumps({
            "kind": "prediction", "request_id": f"failed{k}", "time": f"2026-12-02T05:{10 + k}:00Z",
            "model_id": mf.MODEL_ID, "status": "failed", "http_status": 500, "rows": 0, "payload": None,
            "outputs": None, "latency_ms": 4.0, "error": "ValueError: Input X contains NaN.",
        }))
    lines.append(lines[5][:40])  # a line cut by a killed server
    log = mf.write_log(out / "predictions.jsonl", lines)
    report = monitor(mf.NAME, models, [log], since=None, settings=MonitorSettings(),
                     rules=[])
    html = out / "monitor.html"
    write_html(report, html)
    write_markdown(report, out / "monitor.md")
    write_json(report, out / "monitor.json")
    return html


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "nb2prod-monitor")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--size", default="1280,3000", help="window size, WIDTH,HEIGHT")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    html = sample(args.out)
    print(screenshot(html, args.out / "monitor.png", args.chromium, args.size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
