"""Where the replications of many scenario variants run: local processes, or a Dask cluster.

A *batch* is a list of scenario variants (the points of a sweep, the samples of a sensitivity
analysis, the designs of an optimisation trial) and the replications to run of each. Every task
is one (variant, replication): it runs the chosen policies on the replication's streams of the
root seed (:func:`simulation.model.run_replication`), so replication *r* of every variant and
every policy draws the same random numbers (common random numbers). A task's result depends on
nothing but the variant, the seed and *r*; results are returned sorted by (variant, replication)
whatever the order they finished in, so the backend and the number of workers never change them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from simulation.metrics import Metrics
from simulation.model import run_replication
from vaxdrill.core.errors import RunError
from vaxdrill.core.scenario.model import Scenario

OnDone = Callable[[], None]


@dataclass(frozen=True)
class TaskResult:
    """What one replication of one variant gave: the day's totals per policy."""

    variant: int
    replication: int
    totals: dict[str, Metrics]


@dataclass(frozen=True)
class Batch:
    """Variants to run, ``replications`` of each, from ``seed``, under the ``policies`` named."""

    variants: Sequence[Scenario]
    replications: int
    seed: int
    policies: tuple[str, ...] | None = None
    first_replication: int = 0  # fresh replications (a re-check) start past the ones already used

    def tasks(self) -> list[tuple[int, int]]:
        reps = range(self.first_replication, self.first_replication + self.replications)
        return [(v, r) for v in range(len(self.variants)) for r in reps]


def evaluate(
    scenario: Scenario, variant: int, seed: int, replication: int, policies: tuple[str, ...] | None
) -> TaskResult:
    """One task: a replication of one variant under every chosen policy (the worker's entry point)."""
    result = run_replication(scenario, seed, replication, policies)
    return TaskResult(variant, replication, {name: day.total for name, day in result.policies.items()})


class Backend(Protocol):
    """Runs batches; ``workers`` is how many tasks run at once (shown to the user)."""

    name: str
    workers: int

    def run(self, batch: Batch, on_done: OnDone | None = None) -> list[TaskResult]: ...

    def close(self) -> None: ...


def _sorted(results: Sequence[TaskResult]) -> list[TaskResult]:
    return sorted(results, key=lambda t: (t.variant, t.replication))


# -- local processes ----------------------------------------------------------------------------
_WORKER_VARIANTS: Sequence[Scenario] = ()


def _init_worker(variants: Sequence[Scenario]) -> None:
    global _WORKER_VARIANTS
    _WORKER_VARIANTS = variants


def _run_local(args: tuple[int, int, int, tuple[str, ...] | None]) -> TaskResult:
    variant, replication, seed, policies = args
    return evaluate(_WORKER_VARIANTS[variant], variant, seed, replication, policies)


class LocalBackend:
    """``workers`` tasks at once on this machine: this process and ``workers - 1`` pool processes.

    This process works too rather than wait: a pool process needs a fork server (the model imported
    once, ~1 s on a busy 2-core machine) and the variants unpickled before its first task, and the
    parent runs tasks meanwhile, so the start-up costs no idle core. Tasks go to the pool two per
    pool process ahead (never all at once), so the pool is never starved while the parent runs one
    and neither side is left with a queue when the other runs out: the last straggler is at most one
    task. Results are sorted, so who ran which task never shows.
    """

    name = "local"
    ahead = 2  # tasks queued per pool process beyond the one it runs (the parent's task may be longer)

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)

    def run(self, batch: Batch, on_done: OnDone | None = None) -> list[TaskResult]:
        tasks = deque(batch.tasks())
        if self.workers == 1 or len(tasks) <= 1:
            return [self._here(batch, task, on_done) for task in tasks]
        # A fork server as in simulation.experiment: the model imported once, workers forked from it.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["simulation.model", "simulation.explore.backends"])
        helpers = min(self.workers - 1, len(tasks) - 1)
        results: list[TaskResult] = []
        running: set[Future[TaskResult]] = set()
        pool = ProcessPoolExecutor(
            max_workers=helpers, mp_context=ctx, initializer=_init_worker, initargs=(batch.variants,)
        )
        try:
            while tasks or running:
                while tasks and len(running) < helpers * self.ahead:
                    v, r = tasks.popleft()
                    running.add(pool.submit(_run_local, (v, r, batch.seed, batch.policies)))
                if tasks:  # the parent takes the last task of the queue, the pool the first ones
                    results.append(self._here(batch, tasks.pop(), on_done))
                else:
                    wait(running, return_when=FIRST_COMPLETED)
                for future in [f for f in running if f.done()]:
                    running.discard(future)
                    results.append(future.result())
                    if on_done:
                        on_done()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return _sorted(results)

    @staticmethod
    def _here(batch: Batch, task: tuple[int, int], on_done: OnDone | None) -> TaskResult:
        v, r = task
        result = evaluate(batch.variants[v], v, batch.seed, r, batch.policies)
        if on_done:
            on_done()
        return result

    def close(self) -> None:
        """Nothing held between batches."""


# -- a Dask cluster --------------------------------------------------------------------------------
class DaskBackend:
    """The same tasks on a dask.distributed cluster (``tcp://scheduler:8786``).

    The variants are scattered to every worker once per batch; each task then names its variant
    by index. Workers must have vaxdrill installed (the same version: results are compared).
    """

    name = "dask"

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        import distributed

        connect: Any = distributed.Client  # distributed's API is only partly typed
        try:
            self.client: Any = connect(address, timeout=f"{timeout}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise RunError(f"--dask {address}: cannot reach the Dask scheduler: {exc}") from None
        self.address = address
        threads = self.client.nthreads()
        if not threads:
            self.client.wait_for_workers(1, timeout=timeout)
            threads = self.client.nthreads()
        self.workers = max(1, sum(threads.values()))
        self.client.run(_quiet_profiler)

    def run(self, batch: Batch, on_done: OnDone | None = None) -> list[TaskResult]:
        import distributed

        as_completed: Any = distributed.as_completed
        tasks = batch.tasks()
        scattered = self.client.scatter(list(batch.variants), broadcast=True, hash=False)
        futures = [
            self.client.submit(evaluate, scattered[v], v, batch.seed, r, batch.policies, pure=False) for v, r in tasks
        ]
        results: list[TaskResult] = []
        try:
            for future in as_completed(futures, loop=self.client.loop):
                results.append(future.result())
                if on_done:
                    on_done()
        except Exception as exc:  # a worker died or the scheduler went away: the run could not finish
            raise RunError(f"--dask {self.address}: a task failed on the cluster: {exc}") from exc
        finally:
            self.client.cancel(futures + scattered)
        return _sorted(results)

    def close(self) -> None:
        self.client.close()


def _quiet_profiler(dask_worker: Any) -> None:
    """Stop a worker's statistical profiler: it samples the running task's stack every 10 ms, which
    costs a pure-Python simulation a share of its CPU (workers started with
    ``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False`` have none to stop)."""
    for name in ("profile", "profile-cycle"):
        callback = dask_worker.periodic_callbacks.get(name)
        if callback is not None:
            callback.stop()


def make_backend(workers: int | None = None, dask: str | None = None) -> Backend:
    """``--dask ADDRESS`` if given, else ``--workers K`` local processes (default: every core)."""
    if dask:
        return DaskBackend(dask)
    return LocalBackend(workers or os.cpu_count() or 1)
