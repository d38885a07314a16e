"""Random streams: one per replication and per source of randomness, all from one root seed.

A stream is ``SeedSequence(root, spawn_key=(replication, source))``: it depends only on the root
seed, the replication number and the source's name, never on the order in which streams are made,
the number of worker processes or the policy being run. That is what makes **common random
numbers** work: within a replication every policy sees the same arrivals, service samples and
outage realisations, so the difference between two policies comes from the policy alone.
"""

from __future__ import annotations

import zlib

import numpy as np

SOURCES = (
    "arrivals",  # booked time within the slot and punctuality
    "no_show",  # whether a booked beneficiary comes
    "sms",  # whether the reminder SMS is delivered
    "walk_ins",  # unbooked arrivals
    "service",  # station service times (online and paper)
    "latency",  # registration-system latency, first attempt
    "retry_latency",  # latency of retried attempts
    "observation",  # time in the observation room
    "back_entry",  # time to enter a paper record later, and whether it needs reconciliation
    "server_failures",  # the central server's stochastic up/down process
    "connectivity",  # each site's own link failures
    "routing",  # flow stations: whether a beneficiary visits a station, and where they go next
    "per_site",  # parameters that differ between sites, drawn once per site and replication
    "unselectable",  # which booked beneficiaries the system cannot select all day
    "substitutes",  # arrival times of waiting-list people admitted in empty places
    "postpone",  # who is sent home with a new appointment during a fallback (postpone_share)
    "data_quality",  # duplicates and wrong marks of dose records (per site: simulation.quality)
)


def source_key(source: str) -> int:
    """A stable integer for a source name (CRC32: the same in every process and Python version)."""
    return zlib.crc32(source.encode("utf-8"))


def stream(root: int, replication: int, source: str, index: int | None = None) -> np.random.Generator:
    """The generator of one source of randomness in one replication.

    ``index``: one stream per site for sources drawn site by site (``per_site``, ``data_quality``),
    so a site's draws do not depend on how many other sites there are or what they drew.
    """
    key = (replication, source_key(source)) if index is None else (replication, source_key(source), index)
    seq = np.random.SeedSequence(root, spawn_key=key)
    return np.random.Generator(np.random.PCG64(seq))


def streams(root: int, replication: int) -> dict[str, np.random.Generator]:
    """Every source's generator for one replication."""
    return {name: stream(root, replication, name) for name in SOURCES}
