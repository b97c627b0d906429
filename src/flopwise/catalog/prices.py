"""Cloud prices per accelerator-hour (bundled cloud_prices.csv from SkyPilot's catalogs, late 2025)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flopwise.catalog._files import data_path, read_csv_rows

PRICES_DATE = "2025-11 (SkyPilot catalogs v6/v8 as transcribed in shared/data)"

# catalog accelerator names in cloud_prices.csv → flopwise ids
PRICE_NAME_TO_ID: dict[str, str] = {
    "T4": "t4", "A10G": "a10g", "A10": "a10", "L4": "l4", "L40S": "l40s", "A6000": "rtx-a6000",
    "V100": "v100-sxm2-16gb", "V100-16GB": "v100-sxm2-16gb", "V100-32GB": "v100-sxm2-32gb",
    "A100-40GB": "a100-sxm4-40gb", "A100-80GB": "a100-sxm4-80gb", "A100-80GB-SXM": "a100-sxm4-80gb",
    "A100-80GB-PCIe": "a100-pcie-80gb", "H100": "h100-sxm5-80gb", "H100-SXM": "h100-sxm5-80gb",
    "H100-Mega": "h100-sxm5-80gb", "H100-PCIe": "h100-pcie-80gb", "H100-NVL(94GB)": "h100-nvl-94gb",
    "H200": "h200-sxm-141gb", "B200": "b200", "GH200": "gh200", "MI300X": "mi300x",
    "TPU v4": "tpu-v4", "TPU v5e": "tpu-v5e", "TPU v5p": "tpu-v5p", "TPU v6e": "tpu-v6e",
    "Trainium": "trn1", "Trainium2": "trn2", "Inferentia2": "inf2",
}


@dataclass(frozen=True)
class Price:
    cloud: str
    accelerator: str
    instance_type: str
    region: str
    usd_per_gpu_hour: float
    spot_usd_per_gpu_hour: float | None
    source: str = PRICES_DATE

    def describe(self) -> str:
        return f"{self.cloud} {self.instance_type} ({self.region}) on-demand ${self.usd_per_gpu_hour:.2f}/GPU-h, {self.source}"


def _num(text: str) -> float | None:
    try:
        return float(text) if text not in ("", None) else None
    except ValueError:
        return None


def load_prices(path: Path | None = None) -> list[Price]:
    """Prices from the bundled CSV or a user file in the same columns."""
    out = []
    for r in read_csv_rows(path or data_path("cloud_prices.csv")):
        name = (r.get("accelerator") or "").strip()
        acc = PRICE_NAME_TO_ID.get(name, name.lower())
        od = _num(r.get("ondemand_usd_per_accel_hr", ""))
        if od is None:
            continue
        out.append(Price(cloud=r.get("cloud", ""), accelerator=acc, instance_type=r.get("instance_type", ""),
                         region=r.get("region", ""), usd_per_gpu_hour=od,
                         spot_usd_per_gpu_hour=_num(r.get("spot_usd_per_accel_hr_min", "")),
                         source=PRICES_DATE if path is None else str(path)))
    return out


@cache
def _bundled() -> tuple[Price, ...]:
    return tuple(load_prices())


def cheapest_price(acc_id: str) -> Price | None:
    """Cheapest on-demand price for an accelerator in the bundled catalog (None if unlisted)."""
    cands = [p for p in _bundled() if p.accelerator == acc_id]
    return min(cands, key=lambda p: p.usd_per_gpu_hour) if cands else None
