"""User-facing errors: one line saying what is wrong and what is accepted (exit status 2 in the CLI)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class FlopwiseError(Exception):
    """Bad input or an impossible request; the message is shown to the user as one line."""


class InfeasiblePlan(FlopwiseError):
    """A plan that cannot run (memory, divisibility, budget); the message says why."""


def close_matches(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Names in `choices` that look like `name`, best first (substring hits, then similar spellings)."""
    choices = list(choices)
    key = name.lower().replace("_", "-")
    parts = [p for p in key.split("-") if p]

    def score(c: str) -> float:
        ratio = difflib.SequenceMatcher(None, key, c).ratio()
        bonus = 0.5 if (key in c or c.startswith(key)) else 0.0
        bonus += 0.25 * sum(p in c for p in parts) / max(len(parts), 1)
        return ratio + bonus

    ranked = sorted(choices, key=score, reverse=True)
    return [c for c in ranked[:n] if score(c) >= 0.6]


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
