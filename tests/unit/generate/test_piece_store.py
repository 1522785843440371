"""The layouts a build's workers hand each other (``nb2prod.generate._piece_store``): real forked
processes and a real file, as in a build."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from nb2prod.generate import _piece_store


@pytest.fixture
def empty_store(tmp_path, monkeypatch):
    monkeypatch.setenv("NB2PROD_CACHE_DIR", str(tmp_path / "cache"))
    _piece_store._stored_pieces.cache_clear()
    yield
    _piece_store._stored_pieces.cache_clear()


def _another_worker(claim: str, layouts: dict[str, str]) -> None:
    _piece_store.claim_layout(claim)
    for key, layout in layouts.items():
        _piece_store.share_layout(key, layout)


def _in_a_forked_worker(target, *args) -> None:
    process = multiprocessing.get_context("fork").Process(target=target, args=args)
    process.start()
    process.join(30)
    assert process.exitcode == 0


def test_a_layout_made_in_one_worker_is_found_by_another(empty_store) -> None:
    with _piece_store.shared_pieces():
        assert _piece_store.shared_layout("k1") is None
        _in_a_forked_worker(_another_worker, "k2", {"k1": "def a():\n    pass"})
        assert _piece_store.shared_layout("k1") == "def a():\n    pass"
        assert _piece_store.being_laid_out_elsewhere("k2")  # started there, not shared yet
        assert not _piece_store.being_laid_out_elsewhere("k1")  # shared: nothing to wait for
    assert _piece_store.shared_layout("k3") is None  # outside a build: no exchange at all


def test_a_worker_does_not_wait_for_its_own_claims(empty_store) -> None:
    with _piece_store.shared_pieces():
        _piece_store.claim_layout("mine")
        assert not _piece_store.being_laid_out_elsewhere("mine")


def test_a_record_still_being_written_is_read_only_once_whole(empty_store) -> None:
    with _piece_store.shared_pieces():
        exchange = _piece_store._exchange
        assert exchange is not None
        with open(exchange.path, "ab") as handle:
            handle.write(b'["k", "def b():\\n')  # half a record: no newline yet
        assert _piece_store.shared_layout("k") is None
        with open(exchange.path, "ab") as handle:
            handle.write(b'    pass"]\n')
        assert _piece_store.shared_layout("k") == "def b():\n    pass"


def test_the_exchange_file_is_gone_after_the_build(empty_store) -> None:
    with _piece_store.shared_pieces():
        path = _piece_store._exchange.path  # type: ignore[union-attr]
        _piece_store.share_layout("k", "x = 1")
        assert os.path.getsize(path) > 0
    assert not os.path.exists(path)
