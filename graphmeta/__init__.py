"""graphmeta: graph-based meta-learning on social networks."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("graphmeta")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.4.0"
