import sys

from graphmeta.bench import main

sys.exit(main())
