"""Full-precision latency recording that merges across Locust worker processes.

Locust rounds response times to about two significant digits before computing percentiles
(BRIEF.md section 6); an HdrHistogram keeps three significant digits over the whole range.
Each process keeps a :class:`Recorder`; a worker sends :meth:`Recorder.take_delta` (encoded
histograms and counters gathered since its last report) to the master, which
:meth:`Recorder.merge_delta`-s every worker's deltas into one.

Besides per-endpoint latencies the recorder keeps named extra histograms (``sync_lag``,
``start_delay``), counters (``paper_records``, ``arrivals``, ``dropped`` ...), a timeline of
fixed windows (all requests' latencies, failures and counters per window, for plots and fault
reports) and gauges (``outbox_depth``), the last value per source per window.

This module never imports Locust: the CLI reads the recorder's JSON dump.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram
from numpy.typing import NDArray

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour: a hung request must still be recorded, not dropped
SIG_FIGS = 3
WINDOW_S = 1.0
FLUSH_EVERY = 2000  # buffered requests before a bulk flush (bounded memory)


def new_histogram() -> HdrHistogram:
    """A histogram of microseconds, 1 us to 1 h, three significant digits."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIG_FIGS)


def to_us(ms: float) -> int:
    """Milliseconds (Locust's unit) to whole microseconds within the histogram's range."""
    return min(max(round(ms * 1000.0), LOWEST_US), HIGHEST_US)


@dataclass
class HistStat:
    """A histogram with its request and failure counts (failures are also recorded as latencies)."""

    hist: HdrHistogram = field(default_factory=new_histogram)
    count: int = 0
    failures: int = 0

    def record(self, ms: float, failed: bool = False) -> None:
        self.hist.record_value(to_us(ms))
        self.count += 1
        if failed:
            self.failures += 1

    def record_many(self, ms: NDArray[np.float64], failures: int) -> None:
        """Record a batch at once: the same buckets as ``record_value``, computed with numpy.

        hdrh's ``record_value`` is pure Python (about 2 us); a load generator records every request,
        so requests are buffered and added here in bulk (see :meth:`Recorder.flush`).
        """
        if ms.size == 0:
            return
        h = self.hist
        us = np.clip(np.rint(ms * 1000.0), LOWEST_US, HIGHEST_US).astype(np.int64)
        # bit length of (value | sub_bucket_mask), exact through frexp for values below 2**53
        _, pow2ceiling = np.frexp((us | h.sub_bucket_mask).astype(np.float64))
        bucket = pow2ceiling.astype(np.int64) - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
        sub_bucket = us >> (bucket + h.unit_magnitude)
        index = ((bucket + 1) << h.sub_bucket_half_count_magnitude) + sub_bucket - h.sub_bucket_half_count
        np.add.at(np.ctypeslib.as_array(h.counts), index, 1)
        h.total_count += int(us.size)
        h.min_value = min(h.min_value, int(us.min()))
        h.max_value = max(h.max_value, int(us.max()))
        self.count += int(us.size)
        self.failures += failures

    def percentile_ms(self, p: float) -> float:
        """The ``p``-th percentile in milliseconds (nan when empty).

        Same answer as hdrh's ``get_value_at_percentile`` (highest value equivalent to the first
        bucket whose cumulative count reaches the target), found with numpy instead of a Python loop
        over 23,552 buckets: the SLO watcher asks every few seconds during the run.
        """
        h = self.hist
        if h.get_total_count() == 0:
            return math.nan
        target = h.get_target_count_at_percentile(p)
        cumulative = np.cumsum(np.ctypeslib.as_array(h.counts))
        index = int(np.searchsorted(cumulative, target, side="left"))
        value = h.get_value_from_index(min(index, h.counts_len - 1))
        return float(h.get_highest_equivalent_value(value) if p else h.get_lowest_equivalent_value(value)) / 1000.0

    def mean_ms(self) -> float:
        return float(self.hist.get_mean_value()) / 1000.0 if self.hist.get_total_count() else math.nan

    def encode(self) -> dict[str, Any]:
        return {"h": self.hist.encode().decode("ascii"), "n": self.count, "f": self.failures}

    def add_encoded(self, data: dict[str, Any]) -> None:
        if int(data["n"]) or data.get("h"):
            self.hist.decode_and_add(data["h"].encode("ascii"))
        self.count += int(data["n"])
        self.failures += int(data["f"])

    def add(self, other: HistStat) -> None:
        """Add another histogram of the same layout (numpy, not hdrh's per-bucket Python loop)."""
        if other.hist.get_total_count():
            mine, theirs = self.hist, other.hist
            counts = np.ctypeslib.as_array(mine.counts)
            counts += np.ctypeslib.as_array(theirs.counts)
            mine.total_count += theirs.get_total_count()
            mine.min_value = min(mine.min_value, theirs.min_value)
            mine.max_value = max(mine.max_value, theirs.max_value)
        self.count += other.count
        self.failures += other.failures

    @property
    def empty(self) -> bool:
        return self.count == 0


@dataclass
class Window:
    """One time window of the timeline: all requests, and counters such as arrivals."""

    requests: HistStat = field(default_factory=HistStat)
    counters: dict[str, float] = field(default_factory=lambda: defaultdict(float))


class Recorder:
    """Latencies, counters, gauges and a timeline, mergeable across processes.

    ``t0`` is the wall-clock start of the test (same clock on every process of one machine); the
    timeline is indexed by whole windows since ``t0``.
    """

    def __init__(self, t0: float | None = None, window: float = WINDOW_S) -> None:
        self.t0 = time.time() if t0 is None else t0
        self.window = window
        self._endpoints: dict[str, HistStat] = {}
        self.extra: dict[str, HistStat] = {}
        self.counters: dict[str, float] = defaultdict(float)
        self._windows: dict[int, Window] = {}
        # (wall time, name, ms, failed) of requests not yet in the histograms; see flush()
        self.pending: list[tuple[float, str, float, bool]] = []
        # gauge name -> window -> source -> value (last value seen)
        self.gauges: dict[str, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))

    # -- recording (one process) -------------------------------------------------------------
    def _window(self, now: float | None) -> Window:
        idx = int(((time.time() if now is None else now) - self.t0) // self.window)
        win = self._windows.get(idx)
        if win is None:
            win = self._windows[idx] = Window()
        return win

    def request(self, name: str, ms: float, failed: bool, now: float | None = None) -> None:
        """Record one request (buffered: a list append; histograms are filled in bulk)."""
        self.pending.append((time.time() if now is None else now, name, ms, failed))
        if len(self.pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Move buffered requests into the per-endpoint and per-window histograms."""
        pending, self.pending = self.pending, []
        if not pending:
            return
        t = np.fromiter((p[0] for p in pending), dtype=np.float64, count=len(pending))
        ms = np.fromiter((p[2] for p in pending), dtype=np.float64, count=len(pending))
        failed = np.fromiter((p[3] for p in pending), dtype=bool, count=len(pending))
        names = np.array([p[1] for p in pending], dtype=object)
        for name in set(names.tolist()):
            sel = names == name
            stat = self._endpoints.get(name)
            if stat is None:
                stat = self._endpoints[name] = HistStat()
            stat.record_many(ms[sel], int(failed[sel].sum()))
        idx = ((t - self.t0) // self.window).astype(np.int64)
        for w in np.unique(idx).tolist():
            sel = idx == w
            win = self._windows.get(w)
            if win is None:
                win = self._windows[w] = Window()
            win.requests.record_many(ms[sel], int(failed[sel].sum()))

    @property
    def endpoints(self) -> dict[str, HistStat]:
        self.flush()
        return self._endpoints

    @property
    def windows(self) -> dict[int, Window]:
        self.flush()
        return self._windows

    def observe(self, name: str, ms: float) -> None:
        """Record a non-request quantity (sync lag, iteration start delay) in milliseconds."""
        stat = self.extra.get(name)
        if stat is None:
            stat = self.extra[name] = HistStat()
        stat.record(ms)

    def count(self, name: str, amount: float = 1.0, now: float | None = None) -> None:
        self.counters[name] += amount
        self._window(now).counters[name] += amount

    def gauge(self, name: str, source: str, value: float, now: float | None = None) -> None:
        idx = int(((time.time() if now is None else now) - self.t0) // self.window)
        self.gauges[name][idx][source] = value

    # -- merging (master) --------------------------------------------------------------------
    def take_delta(self) -> dict[str, Any]:
        """Everything recorded since the last call, encoded for a Locust message; then reset."""
        delta = self.to_json()
        self._endpoints, self.extra, self._windows = {}, {}, {}
        self.counters = defaultdict(float)
        self.gauges = defaultdict(lambda: defaultdict(dict))
        return delta

    def merge_delta(self, delta: dict[str, Any]) -> None:
        """Add a delta (or a full dump) from another process; windows are aligned on wall time."""
        shift = float(delta.get("t0", self.t0)) - self.t0
        self.flush()
        for name, data in delta.get("endpoints", {}).items():
            self._endpoints.setdefault(name, HistStat()).add_encoded(data)
        for name, data in delta.get("extra", {}).items():
            self.extra.setdefault(name, HistStat()).add_encoded(data)
        for name, value in delta.get("counters", {}).items():
            self.counters[name] += float(value)
        for key, data in delta.get("windows", {}).items():
            idx = int(key) + round(shift / self.window)
            win = self._windows.get(idx)
            if win is None:
                win = self._windows[idx] = Window()
            win.requests.add_encoded(data["requests"])
            for name, value in data.get("counters", {}).items():
                win.counters[name] += float(value)
        for name, per_window in delta.get("gauges", {}).items():
            for key, sources in per_window.items():
                idx = int(key) + round(shift / self.window)
                self.gauges[name][idx].update({s: float(v) for s, v in sources.items()})

    def to_json(self) -> dict[str, Any]:
        return {
            "t0": self.t0,
            "window": self.window,
            "endpoints": {n: s.encode() for n, s in self.endpoints.items()},
            "extra": {n: s.encode() for n, s in self.extra.items()},
            "counters": dict(self.counters),
            "windows": {
                str(i): {"requests": w.requests.encode(), "counters": dict(w.counters)}
                for i, w in sorted(self.windows.items())
            },
            "gauges": {n: {str(i): dict(src) for i, src in sorted(per.items())} for n, per in self.gauges.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Recorder:
        rec = cls(t0=float(data["t0"]), window=float(data.get("window", WINDOW_S)))
        rec.merge_delta(data)
        return rec

    # -- reading -----------------------------------------------------------------------------
    def total(self) -> HistStat:
        """All endpoints together."""
        out = HistStat()
        for stat in self.endpoints.values():
            out.add(stat)
        return out

    def span(self) -> tuple[int, int]:
        """First and last window with any request or counter."""
        if not self.windows:
            return (0, 0)
        return (min(self.windows), max(self.windows))

    def between(self, start_s: float, end_s: float) -> HistStat:
        """All requests in windows starting within [start_s, end_s) after t0."""
        out = HistStat()
        for idx, win in self.windows.items():
            if start_s <= idx * self.window < end_s:
                out.add(win.requests)
        return out

    def gauge_series(self, name: str) -> dict[int, float]:
        """A gauge summed over its sources per window, carrying each source's last value forward."""
        per = self.gauges.get(name, {})
        last: dict[str, float] = {}
        out: dict[int, float] = {}
        for idx in sorted(per):
            last.update(per[idx])
            out[idx] = sum(last.values())
        return out
