"""Coded errors of deployment (``E6xx``): their codes and fixes are in :data:`core.kernel.errors.CODES`, the one
code table; :class:`DeployError` is re-exported here for the deploy modules."""

from __future__ import annotations

from core.kernel.errors import CODES, DeployError

#: The deployment codes of the one table (``E6xx``).
DEPLOY_CODES = {code: entry for code, entry in CODES.items() if code.startswith("E6")}

__all__ = ["DEPLOY_CODES", "DeployError"]
