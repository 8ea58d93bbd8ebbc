import sys

from qadiag.cli import main

sys.exit(main())
