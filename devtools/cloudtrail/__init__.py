"""CloudTrail records as Splunk sees them after the Splunk Add-on for AWS indexes them (dev tool)."""
