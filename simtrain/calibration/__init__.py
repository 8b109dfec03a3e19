"""Calibration: real training-step kernels (NumPy, numba, torch), measurement, fitted compute profiles."""
