"""Calibration: real training-step kernels (NumPy, numba, torch), measurement, fitted compute profiles.

:func:`calibrate_profile` makes a profile, :func:`check_profile` checks one on held-out shapes,
:func:`load_profile` reads one; ``simtrain calibrate`` is a thin caller of the first two.

Examples
--------
>>> from simtrain.catalog import resolve
>>> load_profile(resolve("profiles", "cpu-numba")).backend
'numba'
"""

from simtrain.calibration.pipeline import ProfileCheck, calibrate_profile, check_profile
from simtrain.calibration.profile import Profile, load_profile

__all__ = ["Profile", "ProfileCheck", "calibrate_profile", "check_profile", "load_profile"]
