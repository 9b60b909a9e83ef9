#!/usr/bin/env python3
"""Thin wrapper: ``python tools/genrefocus_data.py ...`` == ``genrefocus-data ...``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genrefocus.data.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
