"""Hypothesis settings for the fuzz tests (tests/unit/test_fuzz_*.py): a short run in CI, a long one
on demand.

Profiles (``settings.register_profile``), chosen with the environment variable
``MALICIOUS_IMAGE_FUZZ`` (default ``ci``):

- ``ci``: 100 examples per test (scaled per test with ``fuzz_settings(scale)``), a 5 s deadline
  per example: the fuzz tests add well under a minute per interpreter.
- ``long``: 20,000 examples per test, same deadline, for a local run before a release::

      MALICIOUS_IMAGE_FUZZ=long .venv/bin/python -m pytest tests/unit -k fuzz -p no:randomly

- ``soak``: no example limit in practice (1,000,000); stop it with Ctrl-C.

The deadline is the "bounded time" property: any single input that takes longer than 5 s to be
read or refused fails the test. A failure found by a long run is saved in ``.hypothesis/`` and
replayed first on the next run; make it a named regression test (``@example`` or a plain test).
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

PROFILE_VARIABLE = "MALICIOUS_IMAGE_FUZZ"
_COMMON = {
    "deadline": timedelta(seconds=5),
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,  # fixtures here set state (a YAML back-end) per test, not per example
    ],
}
settings.register_profile("ci", max_examples=100, **_COMMON)
settings.register_profile("long", max_examples=20_000, **_COMMON)
settings.register_profile("soak", max_examples=1_000_000, **_COMMON)


def fuzz_settings(scale: float = 1.0) -> settings:
    """The selected profile, with ``max_examples`` scaled for a slower or cheaper test."""
    base = settings.get_profile(os.environ.get(PROFILE_VARIABLE, "ci"))
    return settings(base, max_examples=max(10, int(base.max_examples * scale)))
