"""syncd: GitOps for Celery beat — load, validate, plan, apply, signal."""

from __future__ import annotations

__version__ = "0.1.0"
