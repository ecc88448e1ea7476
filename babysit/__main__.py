import sys

from babysit.cli.main import main

sys.exit(main())
