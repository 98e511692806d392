"""`python -m imaging_ai.cli`, as the `imaging-ai` script."""

import sys

from imaging_ai.cli.main import main

sys.exit(main())
