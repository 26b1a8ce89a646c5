"""The content core: read security_content (every era) into canonical records; no splunklib."""
