"""Constants shared by every layer."""

from __future__ import annotations

from pathlib import Path

#: The repository (or installed source tree) root: ``assets/`` (the bundled demo corpus) lives there.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
