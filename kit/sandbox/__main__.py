import sys

from kit.sandbox.cli import main

sys.exit(main())
