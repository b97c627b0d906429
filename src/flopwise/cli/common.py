"""Shared CLI plumbing: the console, JSON printing, and positive-number checks."""

from __future__ import annotations

import math
from typing import Any

import typer
from rich.console import Console

from flopwise.errors import FlopwiseError
from flopwise.report.format import dumps

console = Console()
JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables.")


def print_json(obj: Any) -> None:
    """JSON to stdout, unwrapped and uncoloured (safe to pipe)."""
    print(dumps(obj))


def positive(value: float | None, name: str) -> float | None:
    """Reject zero/negative/NaN/infinite numbers with one clear line."""
    if value is not None and not (0 < value < math.inf):
        raise FlopwiseError(f"{name} must be a positive finite number, got {value:g}")
    return value


def parse_number(text: str, name: str, example: str = "300e9 or 300B") -> float:
    """Accept 300e9, 3e11, 300B, 1.5T, 2M, 1_000 for counts like tokens (or dollars: 10M)."""
    t = text.strip().replace("_", "").replace(",", "")
    mult = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
    try:
        if t and t[-1].lower() in mult:
            value = float(t[:-1]) * mult[t[-1].lower()]
        else:
            value = float(t)
    except ValueError:
        raise FlopwiseError(f"{name} must be a number like {example}, got '{text}'") from None
    positive(value, name)
    return value
