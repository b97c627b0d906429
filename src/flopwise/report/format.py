"""Human formatting of SI quantities (bytes → GiB, seconds → h/days, $) and JSON output."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, is_dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

GIB = 2**30


def gib(n_bytes: float) -> str:
    return f"{n_bytes / GIB:,.1f} GiB"


def si(x: float, unit: str = "") -> str:
    """1.23e23 → '1.23e+23'; 4.5e9 → '4.50 G'."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}{unit}"
    if abs(x) >= 1e15 or abs(x) < 1e-3:
        return f"{x:.3g}{unit}"
    for div, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g} {prefix}{unit}"
    return f"{x:.3g}{unit}"


def params(n: float) -> str:
    if n >= 1e12:
        return f"{n / 1e12:.2f}T"
    if n >= 1e9:
        return f"{n / 1e9:.2f}B"
    if n >= 1e5:
        return f"{n / 1e6:.1f}M"
    return f"{n:.3g}"


def duration(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def usd(x: float) -> str:
    if x >= 1e12:
        return f"${x / 1e12:,.2f}T"
    if x >= 1e9:
        return f"${x / 1e9:,.2f}B"
    if x >= 1e6:
        return f"${x / 1e6:,.2f}M"
    if x >= 1e3:
        return f"${x:,.0f}"
    return f"${x:,.2f}"


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types from pydantic models, dataclasses, numpy scalars and containers."""
    if isinstance(obj, BaseModel):
        return to_jsonable(obj.model_dump())
    if is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dumps(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), indent=2)
