"""syncd: GitOps for Celery beat — load, validate, plan, apply, signal."""

__version__ = "0.1.0"
