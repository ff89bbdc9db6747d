"""Runs ``graphmeta bench`` (see graphmeta/bench.py) from a checkout:

    python benchmarks/bench.py --json > bench.json
    python benchmarks/bench.py --device cuda --tasks 256
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graphmeta.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
