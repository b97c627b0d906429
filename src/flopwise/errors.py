"""User-facing errors: one line saying what is wrong and what is accepted (exit status 2 in the CLI)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class FlopwiseError(Exception):
    """Bad input or an impossible request; the message is shown to the user as one line."""


class InfeasiblePlan(FlopwiseError):
    """A plan that cannot run (memory, divisibility, budget); the message says why."""


def close_matches(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Names in `choices` that look like `name` (prefix/substring hits first, then fuzzy ones)."""
    choices = list(choices)
    key = name.lower().replace("_", "-")
    hits = [c for c in choices if key in c or c.startswith(key)]
    parts = [p for p in key.split("-") if p]
    if parts:
        hits += [c for c in choices if all(p in c for p in parts) and c not in hits]
    hits += [c for c in difflib.get_close_matches(key, choices, n=n, cutoff=0.5) if c not in hits]
    return hits[:n]


def unknown(kind: str, name: str, choices: Iterable[str], hint: str = "") -> FlopwiseError:
    """An error for a name that is not in a catalog, with close matches."""
    choices = sorted(choices)
    near = close_matches(name, choices)
    if near:
        msg = f"unknown {kind} '{name}': did you mean {' or '.join(repr(c) for c in near)}?"
    else:
        shown = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
        msg = f"unknown {kind} '{name}'; accepted: {shown}"
    return FlopwiseError(msg + (f" ({hint})" if hint else ""))
