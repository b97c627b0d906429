"""Numeric formats: bytes per element, and which peak-rate column of an accelerator each uses."""

from __future__ import annotations

from typing import Literal

Precision = Literal["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4"]

BYTES_PER_ELEMENT: dict[str, float] = {
    "fp32": 4.0,
    "tf32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
}

PRECISIONS: tuple[str, ...] = tuple(BYTES_PER_ELEMENT)


def bytes_per(precision: str) -> float:
    """Bytes one element takes in `precision`."""
    from flopwise.errors import unknown

    try:
        return BYTES_PER_ELEMENT[precision]
    except KeyError:
        raise unknown("precision", precision, PRECISIONS) from None


def matmul_rate_key(precision: str) -> str:
    """The peak-rate column GEMMs in `precision` run at (fp32 training runs its GEMMs on TF32 tensor cores)."""
    return "tf32" if precision == "fp32" else precision
