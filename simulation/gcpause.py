"""Keep a replication's drawn day out of the cyclic garbage collector's way.

Drawing a national day (:func:`simulation.model.realise`) allocates millions of small lists and
tuples (every beneficiary's times) that live until the replication ends and form no reference
cycles. CPython's cyclic collector would scan them again in every full collection, while they are
drawn and while every policy is simulated on them: about a third of the drawing time and 6% of a
national day. So the collector pauses while the day is drawn, and the drawn day (with everything
else alive at that moment) is frozen out of collections (:func:`gc.freeze`) while policies are
simulated. Both are undone at the end, and neither is done when the caller froze objects itself
(a fork server, say) or turned the collector off: its choice stands. Only speed changes: garbage
made meanwhile is collected once the freeze is lifted.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def _ours() -> bool:
    """True when the collector is on and nothing is frozen: the caller has not tuned it."""
    return gc.isenabled() and gc.get_freeze_count() == 0


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection inside the block (for allocation without cycles)."""
    if not _ours():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def kept_out_of_collections() -> Iterator[None]:
    """Objects alive on entry are not scanned by collections inside the block."""
    if not _ours():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
