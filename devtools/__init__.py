"""Development tools for the malicious_image app: packaging, checks, replay, coverage.

Nothing under devtools/ is shipped inside the app package.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
