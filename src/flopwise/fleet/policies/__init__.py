"""Scheduling policies, one file each. Adding a policy is adding a file here that defines a
subclass of `Policy` (or `OrderedPolicy`) with a `name`: it is found automatically.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from flopwise.errors import unknown
from flopwise.fleet.policies.base import OrderedPolicy, Policy

__all__ = ["OrderedPolicy", "Policy", "make_policy", "policy_classes"]


@cache
def policy_classes() -> dict[str, type[Policy]]:
    """name -> class, from every module of this package."""
    found: dict[str, type[Policy]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, Policy) and obj.name and obj.__module__ == mod.__name__:
                found[obj.name] = obj
    return dict(sorted(found.items()))


def make_policy(name: str, **params) -> Policy:
    classes = policy_classes()
    key = name.strip().lower()
    if key not in classes:
        raise unknown("policy", name, list(classes), hint="see `flopwise fleet policies`")
    return classes[key](**params)
