"""The installed distribution's version (``0.0.0+unknown`` in a checkout that was never installed)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vaxdrill")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
