"""Adapters that talk to splunkd: the modular input, the KV store writer and state store, the
sync wiring, the custom alert action and the rotating log file. Nothing outside this package
speaks splunkd REST."""
