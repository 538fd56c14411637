"""`python -m zoo_core.models`: the variants of every installed family with their size (see `catalogue`)."""
import sys

from zoo_core.models.catalogue import main

sys.exit(main())
