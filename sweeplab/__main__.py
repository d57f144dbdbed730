import sys

from sweeplab.cli import main

sys.exit(main())
