"""``python -m graphmeta`` (and ``torchrun -m graphmeta``): the command line."""
import sys

from graphmeta.cli import main

sys.exit(main())
