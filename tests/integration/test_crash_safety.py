"""Nothing lost, ever: builds killed at random moments, and builds racing, leave only complete versions.

The kill test measures how long a build takes and when its version appears, then SIGKILLs real
``python -m nb2prod build`` processes at random moments across that span; two rounds in three aim at
the publish (the calibrated moment, or just after a staging folder appears). After every kill the
tree must verify, CURRENT must name a complete version, and the next, unkilled build must succeed.
Seeded (``NB2PROD_KILL_SEED``), so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from nb2prod.cli import cli
from nb2prod.store.history import verify, verify_version
from nb2prod.store.versions import (
    SWITCH_NAME,
    TMP_PREFIX,
    current_version,
    list_versions,
    read_manifest,
)
from tests.nbfactory import write_notebook

ROUNDS = 25
SEED = int(os.environ.get("NB2PROD_KILL_SEED", "20240605"))


def write(folder: Path, n: int) -> Path:
    """calc.ipynb whose parameter default is ``n``: every new ``n`` is a new version."""
    return write_notebook(folder, [
        ("import math", ["imports"]),
        (f"n = {n}\nscale = 2.0", ["parameters"]),
        ("values = [i * scale for i in range(n)]", ["step:make"]),
        ("total = math.fsum(values)", ["step:add", "parity:total"]),
    ], name="calc.ipynb")


def start_build(notebook: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "nb2prod", "build", str(notebook), "--out", str(out)],
                            cwd=notebook.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_sound(out: Path) -> list[str]:
    """Every version complete and unedited, CURRENT names one of them; returns the versions."""
    package = out / "calc"
    versions = list_versions(package)
    assert versions, "no version at all"
    assert current_version(package) in versions, f"CURRENT={current_version(package)} not in {versions}"
    for version in versions:
        assert verify_version(package, version) == [], f"{version} is incomplete or altered"
    report = verify(out)  # also checks __init__.py against CURRENT (finishing an interrupted switch)
    assert report.problems == [], [str(p) for p in report.problems]
    return versions


def outcome(package: Path, before: list[str], current_before: str | None) -> str:
    """What the kill interrupted, judged from what it left on disk."""
    after = list_versions(package)
    if (package / SWITCH_NAME).exists():
        return "mid-publish (switch record left)" if after != before else "before rename (record left)"
    if any(p.name.startswith(TMP_PREFIX) and p.is_dir() for p in package.iterdir()):
        return "while staging"
    if after == before:
        return "before publishing"
    if current_version(package) == current_before:
        return "after rename, no switch record (a bug)"
    return "after publishing"


def _wait_for_temporary(process: subprocess.Popen[str], package: Path) -> None:
    while process.poll() is None:
        if package.is_dir():
            with os.scandir(package) as entries:
                if any(e.name.startswith(TMP_PREFIX) for e in entries):
                    return
        time.sleep(0.0003)


def calibrate(folder: Path, out: Path) -> tuple[float, float]:
    """(seconds a build takes, seconds until its new version folder appears), median of 3."""
    totals, publishes = [], []
    for n in (1, 2, 3):
        notebook = write(folder, n)
        versions = len(list_versions(out / "calc"))
        began = time.perf_counter()
        process = start_build(notebook, out)
        appeared = None
        while process.poll() is None:
            if appeared is None and len(list_versions(out / "calc")) > versions:
                appeared = time.perf_counter() - began
            time.sleep(0.001)
        _, stderr = process.communicate()
        assert process.returncode == 0, stderr
        totals.append(time.perf_counter() - began)
        publishes.append(appeared if appeared is not None else totals[-1])
    return sorted(totals)[1], sorted(publishes)[1]


def test_builds_killed_at_random_moments_lose_nothing(tmp_path):
    folder, out = tmp_path / "nbs", tmp_path / "gen"
    folder.mkdir()
    total, publish_at = calibrate(folder, out)
    rng = random.Random(SEED)
    seen: Counter[str] = Counter()
    delays = []
    for round_ in range(ROUNDS):
        notebook = write(folder, 100 + round_)
        package = out / "calc"
        before, current_before = list_versions(package), current_version(package)
        began = time.perf_counter()
        process = start_build(notebook, out)
        kind = round_ % 3
        if kind == 0:  # anywhere in the build
            time.sleep(rng.uniform(0, total))
        elif kind == 1:  # the ~60 ms before and around the moment the version appeared in calibration
            time.sleep(rng.uniform(max(0.0, publish_at - 0.05), min(total, publish_at + 0.01)))
        else:  # inside the publish itself: once a staging folder or temporary shows up, 0-12 ms later
            _wait_for_temporary(process, package)
            time.sleep(rng.uniform(0, 0.012))
        process.send_signal(signal.SIGKILL)
        delays.append(time.perf_counter() - began)
        process.communicate()
        seen["exited before the kill" if process.returncode == 0 else outcome(package, before, current_before)] += 1

        versions = assert_sound(out)
        assert versions[: len(before)] == before  # nothing renamed, replaced or deleted
        for old in before:
            assert read_manifest(package, old)["version"] == old

        follow = CliRunner().invoke(cli, ["build", str(notebook), "--out", str(out)])
        assert follow.exit_code == 0, follow.output
        assert_sound(out)
        current = current_version(package)
        assert read_manifest(package, current)["parameters"]["n"]["default"] == 100 + round_
        assert len(list_versions(package)) == len(before) + 1  # exactly one version per change
    print(f"\nkill test: {ROUNDS} rounds, seed {SEED}, build {total:.2f}s, publish at {publish_at:.2f}s, "
          f"delays {min(delays):.3f}-{max(delays):.3f}s; killed: {dict(seen)}")


def test_two_builds_racing_make_exactly_one_version(tmp_path):
    folder, out = tmp_path / "nbs", tmp_path / "gen"
    folder.mkdir()
    first = start_build(write(folder, 1), out)
    first.communicate()
    assert first.returncode == 0
    for n in (2, 3, 4):
        notebook = write(folder, n)
        racers = [start_build(notebook, out), start_build(notebook, out)]
        results = [p.communicate() for p in racers]
        assert [p.returncode for p in racers] == [0, 0], [err for _, err in results]
        statuses = sorted(_status(stdout) for stdout, _ in results)
        assert statuses == ["unchanged", "updated"], [stdout for stdout, _ in results]
        versions = assert_sound(out)
        assert versions == [f"v{k}" for k in range(1, n + 1)]
        assert current_version(out / "calc") == f"v{n}"


def _status(stdout: str) -> str:
    line = next(line for line in stdout.splitlines() if " calc " in line)
    return line.split("│")[-1].strip()
