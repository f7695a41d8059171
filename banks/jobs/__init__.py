"""The banks domain's operation types, one module each. Importing this package (the engine's
autodiscovery does, at start-up) imports every module in it, and each registers its ``Job``
with ``operations.registry``: adding a type is adding one module here."""

from __future__ import annotations

import pkgutil
from importlib import import_module

for _module in pkgutil.iter_modules(__path__):
    import_module(f"{__name__}.{_module.name}")
