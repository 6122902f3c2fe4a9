"""Crash-aware, feasible-first samplers for Optuna."""
