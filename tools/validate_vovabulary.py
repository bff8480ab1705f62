"""The governance rules' spelling of tools/validate_vocabulary.py, kept so that their usage
line works as written: `uv run python tools/validate_vovabulary.py`.

A thin entry point: same options, output and exit codes (0 clean, 1 violations, 2 usage);
the real module, its tests and tools/dev.py use the correct spelling.
"""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `tools` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.validate_vocabulary import main

if __name__ == "__main__":
    sys.exit(main())
