"""Exit codes of the ``build.py`` commands, with one meaning each (``build.py --help`` lists them).

The custom alert action has its own codes, read by splunkd and kept as they were
(``malicious_image.splunkd.alert_action``: 0 done, 2 bad payload or settings, 3 splunkd refused or
unreachable); they are not build.py's.
"""

from __future__ import annotations

OK = 0  # done (sync: updated or unchanged; render --check: nothing stale)
FAILED = 1  # the command ran and found a failure: sync failed (previous tables untouched), a check
# or test failed, render --check found a stale file
USAGE = 2  # bad arguments or unreadable input: nothing was written
BUSY = 3  # sync: another sync holds the output folder's lock; try again when it ends
UNSUPPORTED_SPL = 4  # replay: a shipped search uses SPL the evaluator cannot run

MEANINGS = {
    OK: "done",
    FAILED: "the command ran and found a failure (sync failed, a check or test failed, render --check stale)",
    USAGE: "bad arguments or unreadable input; nothing was written",
    BUSY: "another sync holds the output folder (sync)",
    UNSUPPORTED_SPL: "a shipped search uses SPL the evaluator cannot run (replay)",
}


def describe() -> str:
    """The exit codes as lines for ``--help``."""
    return "\n".join(f"    {code}  {text}" for code, text in sorted(MEANINGS.items()))
