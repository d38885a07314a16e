"""vaxdrill: load-testing and resilience simulation for a vaccination programme's launch day."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vaxdrill")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
