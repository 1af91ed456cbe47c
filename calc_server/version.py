"""The installed version of the calc distribution."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("calc")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
