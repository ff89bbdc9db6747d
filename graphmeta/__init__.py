"""graphmeta: graph-based meta-learning on social networks."""
__version__ = "0.1.0"
