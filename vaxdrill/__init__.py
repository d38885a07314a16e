"""vaxdrill: load-testing and resilience simulation for a vaccination programme's launch day.

The package is layered (README "Architecture"): ``vaxdrill.core`` at the bottom, then the engines
(``simulation``, ``regserver``, ``vaxdrill.loadtest``), then the glue (``locustfiles``,
``vaxdrill.bridges``, ``vaxdrill.report``), then ``vaxdrill.cli``. This module imports none of them.
"""

from vaxdrill.core.version import __version__

__all__ = ["__version__"]
