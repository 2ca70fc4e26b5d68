"""Labelled near-duplicate corpus and the measurement script behind crawler.fingerprint."""
