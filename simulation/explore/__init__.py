"""Exploring a scenario: sweeps, sensitivity analysis and optimisation over many variants of it."""
