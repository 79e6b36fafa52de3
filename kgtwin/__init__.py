"""kgtwin's composition root: settings, the wiring of backends, and the CLI.

Nothing imports this package; it imports everything else.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kgtwin")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
