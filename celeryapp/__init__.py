"""The run side of syncd: Celery app, schedule table, database beat, task base class."""
