"""The monitor's HTML page: self-contained, says the verdict first, and renders in a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "screenshot_monitor_report.py"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_page_is_self_contained_and_leads_with_the_findings(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from scripts.screenshot_monitor_report import sample
    finally:
        sys.path.remove(str(ROOT))
    page = sample(tmp_path).read_text(encoding="utf-8")
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)
    lead = page.split('<p class="lead">')[1].split("</p>")[0]
    assert lead.startswith("Time to retrain: input drift in column &#x27;x4&#x27;")
    assert "quality of &#x27;mae&#x27; degraded" in lead and "health: failed requests" in lead
    # the drifted column's card comes first, with both distributions drawn
    first = page.split('<section class="col')[1]
    assert first.startswith(' bad"><h3><code>x4</code>') and "<polyline" in first and "<rect" in first
    assert page.count('<section class="col') == 13  # 12 inputs + y_pred
    assert "Latency per 5 minutes (ms)" in page and "mae per 5 minutes" in page
    md = (tmp_path / "monitor.md").read_text(encoding="utf-8")
    assert md.startswith("## nb2prod monitor synthetic: RETRAIN")
    assert "| 2026-12-02 05:00 | " in md  # latency per hour


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium for a real screenshot (apt-get install chromium)")
def test_the_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    cmd = [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--chromium", str(CHROMIUM)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True)
    png = Path(done.stdout.strip().splitlines()[-1])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 100_000  # a page of charts, not a blank canvas
