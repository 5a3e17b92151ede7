"""``python -m ferdesk`` is the same as the ``ferdesk`` command."""

import sys

from ferdesk.cli import main

sys.exit(main())
