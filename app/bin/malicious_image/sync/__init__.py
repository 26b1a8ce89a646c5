"""One sync run: source -> records -> tables -> writer; no splunklib."""
