"""The top layer: the ``vaxdrill`` command, its subcommands, drill orchestration and the browser check."""

from vaxdrill.cli.app import main

__all__ = ["main"]
