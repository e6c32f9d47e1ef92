"""Tasks shipped with syncd; every module in this package is imported (autodiscovery).

Task names are explicit (`celeryapp.tasks.echo`), so moving a function between modules
never renames it under the schedules that reference it.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
