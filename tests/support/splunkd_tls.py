"""A ``requests`` session that trusts an emulated splunkd the way a careful client does.

The emulator serves HTTPS with a certificate whose only name is ``server.cert_name`` (for the
default install ``SplunkServerDefaultCert``), signed by ``server.ca_file``: this session verifies
the chain against that CA and compares the certificate's name with ``cert_name`` instead of the
address (the emulator listens on 127.0.0.1). For tests of the emulator itself, not of the app's
client (which has its own TLS policy).
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter


class _NamedCertAdapter(HTTPAdapter):
    def __init__(self, cert_name: str) -> None:
        self.cert_name = cert_name
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["assert_hostname"] = self.cert_name
        super().init_poolmanager(*args, **kwargs)


def trusting_session(server: Any) -> requests.Session:
    """A session for ``server.url``: plain for an HTTP emulator, else verified as described above."""
    session = requests.Session()
    session.trust_env = False
    if server.url.startswith("https://"):
        session.verify = str(server.ca_file)
        session.mount(server.url + "/", _NamedCertAdapter(server.cert_name))
    return session
