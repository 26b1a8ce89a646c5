"""Shared test set-up: paths, the emulated-splunkd fixture, the certificate builder."""
