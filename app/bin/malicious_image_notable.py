"""Custom alert action malicious_image_notable: splunkd runs this script with --execute and a JSON
payload on stdin; the work is in malicious_image.splunkd.alert_action."""

import os
import sys

BIN = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(BIN), "lib"))
if BIN not in sys.path:
    sys.path.insert(0, BIN)

from malicious_image.splunkd.alert_action import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv))
