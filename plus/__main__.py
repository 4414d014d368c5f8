import sys

from plus.cli import main

sys.exit(main())
