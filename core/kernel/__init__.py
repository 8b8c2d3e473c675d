"""Lowest layer: coded errors, the run config, constants, atomic writes. Imports nothing of core."""
