"""The prediction log: whole lines from many processes at once, 0600, rotation by size."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from pathlib import Path

from nb2prod.serve.log import PredictionLog, rotated_files


def _writer(path: str, worker: int, count: int, max_bytes: int) -> None:
    log = PredictionLog(Path(path), max_bytes=max_bytes)
    for i in range(count):
        size = 200_000 if i % 50 == 0 else 30 + i % 7  # a few lines larger than a pipe buffer
        log.write({"kind": "prediction", "worker": worker, "i": i, "pad": "x" * size})
    log.close()


def test_processes_append_whole_lines_and_rotation_loses_none(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "predictions.jsonl"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_writer, args=(str(path), w, 300, 2_000_000)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
        assert p.exitcode == 0
    files = rotated_files(path)
    assert len(files) > 1 and files[-1] == path  # it rotated, oldest first, the live file last
    seen = set()
    for file in files:
        assert stat.S_IMODE(os.stat(file).st_mode) == 0o600
        assert file.stat().st_size <= 2_000_000 + 200_100
        for line in file.read_text().splitlines():
            record = json.loads(line)  # a torn or interleaved line would not parse
            seen.add((record["worker"], record["i"]))
    assert len(seen) == 4 * 300


def test_rotation_keeps_a_bounded_number_of_files(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    with PredictionLog(path, max_bytes=100, keep=3) as log:
        for i in range(20):
            log.write({"i": i, "pad": "y" * 60})
    files = rotated_files(path)
    assert [f.name for f in files] == ["p.jsonl.3", "p.jsonl.2", "p.jsonl.1", "p.jsonl"]
    assert [json.loads(f.read_text())["i"] for f in files] == [16, 17, 18, 19]


def test_an_existing_log_is_made_private_and_appended(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"old": 1}\n')
    path.chmod(0o644)
    with PredictionLog(path) as log:
        log.write({"new": 2})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"old": 1}, {"new": 2}]
