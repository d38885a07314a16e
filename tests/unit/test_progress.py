"""Live progress from Locust's history CSV: a line every 10 s when output is not a terminal."""

from __future__ import annotations

from pathlib import Path

from vaxdrill.loadtest.progress import Ticker, progress_line, read_live

HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,"
    "Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,"
    "Total Min Response Time,Total Max Response Time,Total Average Content Size\n"
)


def _row(name: str, rps: float, fails: float, p95: str) -> str:
    return f"1,4,GET,{name},{rps},{fails},5,6,7,8,9,{p95},1,1,1,1,1,10,1,5,5,1,9,60\n"


def test_the_last_aggregated_row_gives_rps_errors_and_p95(tmp_path: Path) -> None:
    history = tmp_path / "locust_stats_history.csv"
    assert read_live(history) is None  # not written yet
    history.write_text(HEADER + _row("Aggregated", 0.0, 0.0, "N/A"))
    empty = read_live(history)
    assert empty is not None and empty.rps == 0 and empty.p95_ms is None
    history.write_text(HEADER + _row("Aggregated", 10.0, 0.0, "12") + _row("schedule", 3.0, 3.0, "900")
                       + _row("Aggregated", 40.0, 2.0, "38"))  # fmt: skip
    live = read_live(history)
    assert live is not None and (live.rps, live.error_share, live.p95_ms) == (40.0, 0.05, 38.0)
    assert progress_line(20.2, 60, live) == "progress 20 s of 60 s: 40.0 req/s, errors 5.0%, p95 38 ms"
    assert "None" not in progress_line(3, 60, None)


def test_a_line_every_ten_seconds_however_the_polls_fall() -> None:
    ticker = Ticker()
    due = [t for t in (0.0, 5.0, 9.9, 10.1, 10.3, 19.8, 20.4, 45.0, 49.0, 50.0) if ticker.due(t)]
    assert due == [10.1, 20.4, 45.0, 50.0]


def test_past_the_planned_length_the_line_says_the_run_is_finishing() -> None:
    line = progress_line(30.0, 20.0, None)
    assert line.startswith("progress 30 s (the 20 s of load are over; finishing)") and "30 s of 20 s" not in line
