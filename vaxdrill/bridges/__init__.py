"""Calibration both ways: measured server behaviour into the simulation, simulated days into load."""
