"""The collector pauses and freezes around a replication's day, and leaves a caller's own tuning alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from simulation.gcpause import collector_paused, kept_out_of_collections


@pytest.fixture(autouse=True)
def _restore_collector() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.enable()


def test_the_collector_is_paused_in_the_block_and_back_after_an_error() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a failing draw")
    assert gc.isenabled()


def test_objects_alive_on_entry_are_frozen_only_inside_the_block() -> None:
    day = [[float(i)] for i in range(1000)]
    with kept_out_of_collections():
        assert gc.get_freeze_count() >= len(day)
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), kept_out_of_collections():
        raise RuntimeError("a failing policy")
    assert gc.get_freeze_count() == 0


def test_a_callers_own_freeze_or_disabled_collector_is_left_as_it_was() -> None:
    gc.freeze()  # as a fork server does before forking workers
    frozen = gc.get_freeze_count()
    with kept_out_of_collections(), collector_paused():
        assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
    gc.unfreeze()
    gc.disable()
    with collector_paused(), kept_out_of_collections():
        assert gc.get_freeze_count() == 0
    assert not gc.isenabled()
