"""The installed version of the calc distribution (one home: ``calc_local.version``)."""

from calc_local.version import installed_version

__version__ = installed_version()
