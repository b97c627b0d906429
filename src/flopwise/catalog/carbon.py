"""Grid carbon intensity by region (gCO2e per kWh, location-based) and node power overheads.

Regions come from two bundled files:
* `carbon/gcp_region_carbon_info_2024.csv` (falling back to the 2023 file for regions missing in 2024):
  Google's per-region grid intensity and CFE %, GoogleCloudPlatform/region-carbon-info, Apache-2.0;
* `carbon/grid_intensity_other.csv`: national averages (Ember / Our World in Data, 2023) and AWS regions
  (Ember 2025 national data), each row with its source (../shared/data/NOTES.md §3.3).
`node_power.yaml` holds the server power besides the accelerators, per accelerator (NOTES §3.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from flopwise.catalog._files import data_path, load_yaml, read_csv_rows
from flopwise.errors import unknown

GCP_SOURCE = "Google Cloud region-carbon-info (Apache-2.0)"


@dataclass(frozen=True)
class GridIntensity:
    region: str
    name: str
    g_co2e_per_kwh: float
    year: int
    source: str
    cfe: float | None = None  # Google carbon-free energy share (GCP regions only)

    def describe(self) -> str:
        return f"{self.region} ({self.name}) {self.g_co2e_per_kwh:.0f} gCO2e/kWh, {self.year}, {self.source}"


@cache
def _regions() -> dict[str, GridIntensity]:
    out: dict[str, GridIntensity] = {}
    for year in (2023, 2024):  # 2024 overrides 2023
        for r in read_csv_rows(data_path(f"carbon/gcp_region_carbon_info_{year}.csv")):
            region = r["Google Cloud Region"].strip()
            try:
                g = float(r["Grid carbon intensity (gCO2eq / kWh)"])
            except (TypeError, ValueError):
                continue
            cfe = r.get("Google CFE")
            out[region] = GridIntensity(region, r["Location"].strip(), g, year, f"{GCP_SOURCE} {year}",
                                        float(cfe) if cfe not in (None, "") else None)
    for r in read_csv_rows(data_path("carbon/grid_intensity_other.csv")):
        out[r["region"].strip()] = GridIntensity(r["region"].strip(), r["name"].strip(), float(r["g_co2e_per_kwh"]),
                                                 int(r["year"]), r["source"].strip())
    return out


def grid_regions() -> list[GridIntensity]:
    return sorted(_regions().values(), key=lambda g: g.region)


def grid_intensity(region: str) -> GridIntensity:
    """Grid intensity of a cloud region (us-central1, eu-west-1, ...) or a country (france, usa, world)."""
    key = region.strip().lower()
    regs = _regions()
    if key in regs:
        return regs[key]
    by_name = {g.name.lower(): g for g in regs.values()}
    if key in by_name:
        return by_name[key]
    raise unknown("grid region", region, list(regs), hint="a GCP or AWS region, a country, or 'world'; or give --grid-g-per-kwh")


@dataclass(frozen=True)
class NodeOverhead:
    watts_per_gpu: float
    source: str


@cache
def _node_power() -> dict[str, NodeOverhead]:
    out = {}
    for e in load_yaml("node_power.yaml"):
        for acc in e["accelerators"]:
            out[acc] = NodeOverhead(float(e["node_overhead_w_per_gpu"]), e["source"])
    return out


def node_overhead(acc_id: str) -> NodeOverhead:
    """Server power besides the accelerators, per accelerator (W, at the system's maximum)."""
    table = _node_power()
    return table.get(acc_id, table["default"])
