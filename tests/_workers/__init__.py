"""Helpers for the sampler tests that run in worker subprocesses (and in-process)."""
