"""Subcommands of ``vaxdrill``; each module adds its own with ``register(app)``.

A subcommand is listed here only once it works end to end.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach every working subcommand to ``app``."""
    from vaxdrill.cli.commands import (
        calibrate,
        capacity,
        compare,
        drill,
        examples,
        loadtest,
        optimise,
        profile,
        proxy,
        sensitivity,
        serve,
        simulate,
        sweep,
        ui,
        worker,
    )

    simulate.register(app)
    serve.register(app)
    loadtest.register(app)
    capacity.register(app)
    profile.register(app)
    drill.register(app)
    compare.register(app)
    proxy.register(app)
    worker.register(app)
    examples.register(app)
    sweep.register(app)
    sensitivity.register(app)
    optimise.register(app)
    ui.register(app)
    calibrate.register(app)
