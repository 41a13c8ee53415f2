"""What this build is: the package version and the formats it reads and speaks.

An operator upgrading one bureau at a time needs to know, from outside the
process, which build each node runs and whether two builds can share a
network (same link protocol) and a data directory (same store format).
``skillchain --version``, ``/v1/status`` and ``skillchain_build_info`` all
read this one place.
"""

from __future__ import annotations

import platform
from functools import cache
from importlib import metadata

__all__ = ["build_info", "package_version"]

PACKAGE = "skillchain"


@cache
def package_version() -> str:
    """The installed package's version (``pyproject.toml``), or ``0+unknown`` when the
    code runs from a checkout that was never installed."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "0+unknown"


@cache
def build_info() -> dict[str, str | int]:
    """Version, store format (``storage.store``), link protocol (``node.links``), Python."""
    from node.links import LINK_VERSION
    from storage.store import STORE_FORMAT

    return {
        "version": package_version(),
        "store_format": STORE_FORMAT,
        "link_protocol": LINK_VERSION,
        "python": platform.python_version(),
    }
