"""Modular input security_content: splunkd runs this script; the work is in malicious_image.splunkd.modinput."""

import os
import sys

BIN = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(BIN), "lib"))
if BIN not in sys.path:
    sys.path.insert(0, BIN)

from malicious_image.splunkd.modinput import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv))
