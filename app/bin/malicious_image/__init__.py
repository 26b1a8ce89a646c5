"""malicious_image: the Python package behind the Splunk app of the same id.

Entry points in app/bin/ put app/lib (vendored runtime libraries) on sys.path and call into
this package. The content core (malicious_image.content, malicious_image.sync) imports nothing
from splunklib; Splunk adapters (modular input, KV store writer, alert action) are thin layers.
"""

APP_ID = "malicious_image"
