"""Cloud prices per accelerator-hour: the bundled table, a user's CSV, or SkyPilot's own catalog files.

Three sources, each row carrying the date of its data (shown wherever a price is used):

* the bundled `cloud_prices.csv`, transcribed from SkyPilot's public catalogs (schema v8 for AWS, GCP,
  Lambda and RunPod, late 2025; v6 for Azure, older) — see ../shared/data/NOTES.md §2;
* a user file (`--prices FILE`): either flopwise's columns (cloud, accelerator, on-demand $/GPU-h, spot
  $/GPU-h, region, date) or a SkyPilot `vms.csv` as downloaded;
* SkyPilot's catalog as the SkyPilot client caches it (`~/.sky/catalogs/<version>/<cloud>/vms.csv`),
  read when SkyPilot is installed or that directory exists. Its rows replace the bundled rows of the
  same cloud; the date is the file's modification date (when SkyPilot downloaded it).

SkyPilot catalog semantics handled here (NOTES §2.2): prices are per *instance*-hour (divided by
AcceleratorCount); GCP lists the GPU and its host VM as separate rows (added back together), TPU rows
are per slice (tpu-v4-N / tpu-v5p-N count TensorCores, two per chip; v5litepod-N / v6e-N count chips),
700.0 is GCP's "not available" placeholder; a spot price equal to the on-demand price means "no spot
data" (RunPod v8, Azure v6 H100); fractional accelerators (AWS g6f) are skipped.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from flopwise.catalog._files import data_path, read_csv_rows
from flopwise.errors import FlopwiseError

PRICES_DATE = "2025-11 (SkyPilot catalogs v6/v8 as transcribed in shared/data)"
BUNDLED_V8_DATE = "2025-11"  # AWS/GCP/Lambda/RunPod v8: late 2025 (AWS images.csv up to 2025-09-10; mid-2025 P5 price cut in)
BUNDLED_AZURE_DATE = "2024 (est.)"  # the newest upstream Azure file is schema v6, probably 2024-vintage
BUNDLED_RUNPOD_V7_DATE = "2025 (v7)"

BUNDLED_SOURCE = "bundled cloud_prices.csv, from SkyPilot's public catalogs"

#: Environment variable that points flopwise at a SkyPilot catalog directory (default ~/.sky/catalogs).
SKY_CATALOG_ENV = "FLOPWISE_SKY_CATALOG_DIR"

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

# Names SkyPilot's catalogs use (v5-v8, all clouds), normalised by _norm(), → flopwise ids.
_SKY_NAMES: dict[str, str] = {
    "A100": "a100-sxm4-40gb", "A10040GB": "a100-sxm4-40gb", "A10080GB": "a100-sxm4-80gb",
    "A10080GBSXM": "a100-sxm4-80gb", "A100SXM": "a100-sxm4-80gb", "A100SXM480GB": "a100-sxm4-80gb",
    "A10080GBPCIE": "a100-pcie-80gb", "A100PCIE": "a100-pcie-80gb", "A100PCIE40GB": "a100-pcie-40gb",
    "H100": "h100-sxm5-80gb", "H100SXM": "h100-sxm5-80gb", "H100SXM5": "h100-sxm5-80gb", "H100MEGA": "h100-sxm5-80gb",
    "H100PCIE": "h100-pcie-80gb", "H100NVL": "h100-nvl-94gb", "H200": "h200-sxm-141gb", "H200SXM": "h200-sxm-141gb",
    "B200": "b200", "GB200": "gb200", "GH200": "gh200", "L4": "l4", "L40S": "l40s", "T4": "t4",
    "V100": "v100-sxm2-16gb", "V10016GB": "v100-sxm2-16gb", "V10032GB": "v100-sxm2-32gb",
    "A10G": "a10g", "A10": "a10", "A40": "a40", "A6000": "rtx-a6000", "RTXA6000": "rtx-a6000",
    "RTX4090": "rtx-4090", "RTX3090": "rtx-3090", "RTX5090": "rtx-5090", "RTX3080TI": "rtx-3080-ti",
    "MI300X": "mi300x", "MI325X": "mi325x", "MI250X": "mi250x", "GAUDI2": "gaudi2", "GAUDI3": "gaudi3",
    "TRAINIUM": "trn1", "TRAINIUM2": "trn2", "INFERENTIA2": "inf2",
}

# Known errors in SkyPilot catalog rows (NOTES §2.2): instance type → true accelerator count.
_SKY_COUNT_FIXES = {"Standard_ND96isr_H100_v5": 8}
_GCP_UNAVAILABLE = 700.0


def _norm(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", name.upper())


_NORMALISED = {_norm(k): v for k, v in PRICE_NAME_TO_ID.items()} | _SKY_NAMES


def accelerator_id_for(name: str) -> str | None:
    """flopwise accelerator id for a cloud catalog's accelerator name (None if flopwise has no such part)."""
    key = _norm(name)
    if key in _NORMALISED:
        return _NORMALISED[key]
    m = re.fullmatch(r"TPU(V\d+(?:E|P|LITEPOD)?)", key)
    if m:
        gen = m.group(1).lower().replace("litepod", "e")
        return f"tpu-{gen}"
    from flopwise.catalog.accelerators import get_accelerator

    try:
        return get_accelerator(name.strip().lower()).id
    except FlopwiseError:
        return None


@dataclass(frozen=True)
class Price:
    """One offer: an accelerator-hour on a cloud, on demand (and spot where the cloud sells it)."""

    cloud: str
    accelerator: str
    instance_type: str
    region: str
    usd_per_gpu_hour: float
    spot_usd_per_gpu_hour: float | None
    source: str = PRICES_DATE
    date: str = BUNDLED_V8_DATE
    accelerators_per_instance: float = 1.0
    notes: str = ""
    spot_min_usd_per_gpu_hour: float | None = None  # cheapest zone; `spot_usd_per_gpu_hour` is the dearest (conservative)

    def describe(self, spot: bool = False) -> str:
        if spot and self.spot_usd_per_gpu_hour is not None:
            lo = self.spot_min_usd_per_gpu_hour
            rng = f" (zones from ${lo:.2f})" if lo is not None and lo < self.spot_usd_per_gpu_hour - 5e-3 else ""
            what = f"spot ${self.spot_usd_per_gpu_hour:.2f}/GPU-h{rng}"
        else:
            what = f"on-demand ${self.usd_per_gpu_hour:.2f}/GPU-h"
        return f"{self.cloud} {self.instance_type} ({self.region}) {what}, prices of {self.date} ({self.source})"


def _num(text) -> float | None:
    if text is None:
        return None
    text = str(text).strip()
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _file_date(path: Path) -> str:
    try:
        return _dt.date.fromtimestamp(path.stat().st_mtime).isoformat()
    except OSError:
        return "unknown date"


# ---- the bundled table and flopwise-format user files ------------------------------------------------------

_OD_COLUMNS = ("ondemand_usd_per_accel_hr", "usd_per_gpu_hour", "on_demand_usd_per_gpu_hour", "price_usd_per_gpu_hour", "price")
# spot: the dearest zone of the catalog's range when it gives one (a large job cannot all sit in the cheapest zone)
_SPOT_COLUMNS = ("spot_usd_per_accel_hr_max", "spot_usd_per_accel_hr_min", "spot_usd_per_gpu_hour",
                 "spot_price_usd_per_gpu_hour", "spot_price", "spot")


def _bundled_date(row: dict) -> str:
    cloud = (row.get("cloud") or "").lower()
    if cloud == "azure":
        return BUNDLED_AZURE_DATE
    if "(v7)" in (row.get("instance_type") or ""):
        return BUNDLED_RUNPOD_V7_DATE
    return BUNDLED_V8_DATE


def _rows_flopwise(rows: list[dict], path: Path | None) -> list[Price]:
    header = {k.strip().lower(): k for k in rows[0]} if rows else {}
    od_col = next((header[c] for c in _OD_COLUMNS if c in header), None)
    spot_col = next((header[c] for c in _SPOT_COLUMNS if c in header), None)
    where = str(path) if path else "cloud_prices.csv"
    for need in ("cloud", "accelerator"):
        if need not in header:
            raise FlopwiseError(f"{where}: missing column '{need}'; a price file needs cloud, accelerator, "
                                f"usd_per_gpu_hour (optional: spot_usd_per_gpu_hour, region, instance_type, date)")
    if od_col is None:
        raise FlopwiseError(f"{where}: no on-demand price column; expected one of {', '.join(_OD_COLUMNS)}")
    out = []
    file_date = _file_date(path) + " (file date)" if path else None
    for i, r in enumerate(rows, start=2):
        name = (r.get(header["accelerator"]) or "").strip()
        raw_od = r.get(od_col)
        od = _num(raw_od)
        if od is None:
            if path is not None and raw_od not in (None, "") and str(raw_od).strip():
                raise FlopwiseError(f"{where} line {i}: price '{raw_od}' is not a number")
            continue
        spot = _num(r.get(spot_col)) if spot_col else None
        spot_min = _num(r.get(header["spot_usd_per_accel_hr_min"])) if "spot_usd_per_accel_hr_min" in header else spot
        if od <= 0 or (spot is not None and spot <= 0):
            raise FlopwiseError(f"{where} line {i}: prices must be positive, got {od:g}"
                                + (f" / spot {spot:g}" if spot is not None else ""))
        if spot is not None and spot >= od:
            spot = None  # spot == on-demand means "no spot data" (RunPod v8, Azure v6 H100)
        spot_min = spot_min if spot is not None and spot_min is not None and spot_min <= spot else spot
        acc = accelerator_id_for(name) or name.lower()
        if path is None:
            date, source = _bundled_date(r), BUNDLED_SOURCE
        else:
            date = (r.get(header["date"]) or "").strip() if "date" in header else ""
            date, source = date or file_date, str(path)
        n_acc = _num(r.get(header.get("accelerators_per_instance", ""), "")) or 1.0
        out.append(Price(
            cloud=(r.get(header["cloud"]) or "").strip().lower(), accelerator=acc,
            instance_type=(r.get(header.get("instance_type", ""), "") or "").strip(),
            region=(r.get(header.get("region", ""), "") or "").strip() or "-",
            usd_per_gpu_hour=od, spot_usd_per_gpu_hour=spot, source=source, date=date,
            accelerators_per_instance=n_acc, notes=(r.get(header.get("notes", ""), "") or "").strip(),
            spot_min_usd_per_gpu_hour=spot_min,
        ))
    return out


# ---- SkyPilot vms.csv ------------------------------------------------------------------------------------

def _tpu_chips(name: str) -> tuple[str, float] | None:
    """('tpu-v5p', chips) for a SkyPilot TPU slice name like tpu-v5p-8 (None if not a TPU slice)."""
    m = re.fullmatch(r"tpu-(v\d+)(litepod|e|p)?-(\d+)", name.strip().lower())
    if not m:
        return None
    gen, kind, n = m.group(1), m.group(2) or "", int(m.group(3))
    if kind in ("litepod", "e"):
        return f"tpu-{gen}e", float(n)  # v5litepod-N / v6e-N: N chips
    return f"tpu-{gen}{kind}", n / 2.0  # v2/v3/v4/v5p-N: N TensorCores, two per chip


def _rows_skypilot(rows: list[dict], cloud: str, source: str, date: str) -> list[Price]:
    """Per-GPU prices from a SkyPilot vms.csv (cheapest availability zone per instance type and region)."""
    gcp_gpu: dict[tuple[str, str, float], tuple[float | None, float | None]] = {}
    if cloud == "gcp":  # GPU-only rows (empty InstanceType): price for `count` GPUs, added to the host VM
        for r in rows:
            if (r.get("InstanceType") or "").strip() or not (r.get("AcceleratorName") or "").strip():
                continue
            key = (r["AcceleratorName"].strip(), (r.get("Region") or "").strip(), _num(r.get("AcceleratorCount")) or 0)
            od, sp = _num(r.get("Price")), _num(r.get("SpotPrice"))
            if od == _GCP_UNAVAILABLE:
                od = None
            if sp == _GCP_UNAVAILABLE:
                sp = None
            old = gcp_gpu.get(key, (None, None))
            gcp_gpu[key] = (_min(old[0], od), _min(old[1], sp))
    best: dict[tuple[str, str, str], Price] = {}
    for r in rows:
        name = (r.get("AcceleratorName") or "").strip()
        itype = (r.get("InstanceType") or "").strip()
        region = (r.get("Region") or "").strip() or "-"
        if not name:
            continue
        count = _SKY_COUNT_FIXES.get(itype) or _num(r.get("AcceleratorCount")) or 0
        od, sp = _num(r.get("Price")), _num(r.get("SpotPrice"))
        notes = ""
        tpu = _tpu_chips(name)
        if tpu is not None:
            acc, count = tpu
            itype = itype if itype and itype.upper() != "TPU-VM" else name
        elif cloud == "gcp" and not itype:
            # a GPU-only row: used as such only for GPUs attached to general-purpose (n1) hosts
            acc = accelerator_id_for(name)
            notes = "GPU only; host VM not included"
            itype = f"n1-* + {name}"
        else:
            acc = accelerator_id_for(name)
            if cloud == "gcp" and itype:
                gpu_od, gpu_sp = gcp_gpu.get((name, region, count), (None, None))
                od = od + gpu_od if od is not None and gpu_od is not None else None
                sp = sp + gpu_sp if sp is not None and gpu_sp is not None else None
        if acc is None or count < 1:
            continue
        if od is None or od <= 0 or (cloud == "gcp" and od == _GCP_UNAVAILABLE):
            continue
        per_od = od / count
        per_sp = sp / count if sp is not None and sp > 0 else None
        if per_sp is not None and per_sp >= per_od:
            per_sp = None
        p = Price(cloud=cloud, accelerator=acc, instance_type=itype, region=region, usd_per_gpu_hour=per_od,
                  spot_usd_per_gpu_hour=per_sp, source=source, date=date, accelerators_per_instance=count, notes=notes,
                  spot_min_usd_per_gpu_hour=per_sp)
        key = (acc, itype, region)
        old = best.get(key)
        if old is None:
            best[key] = p
        else:  # several availability zones: same on-demand price, spot varies → keep the range
            best[key] = replace(old, usd_per_gpu_hour=min(old.usd_per_gpu_hour, per_od),
                                spot_usd_per_gpu_hour=_max(old.spot_usd_per_gpu_hour, per_sp),
                                spot_min_usd_per_gpu_hour=_min(old.spot_min_usd_per_gpu_hour, per_sp))
    return list(best.values())


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _is_skypilot_header(rows: list[dict]) -> bool:
    return bool(rows) and {"InstanceType", "AcceleratorName", "Price"} <= set(rows[0])


def load_prices(path: Path | None = None) -> list[Price]:
    """Prices from the bundled CSV, or a user file (flopwise columns, or a SkyPilot vms.csv)."""
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise FlopwiseError(f"price file {path} does not exist")
    rows = read_csv_rows(path or data_path("cloud_prices.csv"))
    if path is not None and not rows:
        raise FlopwiseError(f"{path}: no rows")
    if path is not None and _is_skypilot_header(rows):
        cloud = path.parent.name.lower() if path.name == "vms.csv" else path.stem.lower()
        out = _rows_skypilot(rows, cloud, f"SkyPilot-format file {path}", _file_date(path) + " (file date)")
    else:
        out = _rows_flopwise(rows, path)
    if path is not None and not out:
        raise FlopwiseError(f"{path}: no usable price rows (need a positive on-demand price per row)")
    return out


# ---- SkyPilot's own catalog ----------------------------------------------------------------------------

def skypilot_catalog_dir() -> Path | None:
    """Where SkyPilot caches its catalogs, if there is one: $FLOPWISE_SKY_CATALOG_DIR, SkyPilot's own
    constant when `sky` is importable, else ~/.sky/catalogs."""
    env = os.environ.get(SKY_CATALOG_ENV)
    if env:
        p = Path(env).expanduser()
        return p if p.is_dir() else None
    candidates = []
    for mod in ("sky.catalog.constants", "sky.clouds.service_catalog.constants"):
        try:
            import importlib

            c = importlib.import_module(mod)
        except Exception:  # noqa: BLE001 - SkyPilot absent or broken: fall back to the default path
            continue
        d = getattr(c, "CATALOG_DIR", None) or getattr(c, "LOCAL_CATALOG_DIR", None)
        if d:
            candidates.append(Path(d).expanduser())
        break
    candidates.append(Path("~/.sky/catalogs").expanduser())
    return next((p for p in candidates if p.is_dir()), None)


def load_skypilot_catalog(root: Path | None = None) -> list[Price]:
    """Every <version>/<cloud>/vms.csv under SkyPilot's catalog dir, newest schema version per cloud."""
    root = root or skypilot_catalog_dir()
    if root is None or not Path(root).is_dir():
        return []
    newest: dict[str, tuple[int, Path]] = {}
    for vms in Path(root).glob("v*/*/vms.csv"):
        m = re.fullmatch(r"v(\d+)", vms.parent.parent.name)
        if not m:
            continue
        cloud, ver = vms.parent.name.lower(), int(m.group(1))
        if cloud not in newest or ver > newest[cloud][0]:
            newest[cloud] = (ver, vms)
    out: list[Price] = []
    for cloud, (ver, vms) in sorted(newest.items()):
        try:
            rows = read_csv_rows(vms)
        except FlopwiseError:
            continue
        if not _is_skypilot_header(rows):
            continue
        out += _rows_skypilot(rows, cloud, f"SkyPilot catalog v{ver}/{cloud} ({vms})", _file_date(vms) + " (downloaded)")
    return out


# ---- choosing the catalog --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PriceCatalog:
    """The price rows in use and where they come from (with dates)."""

    prices: tuple[Price, ...]
    sources: tuple[str, ...] = field(default_factory=tuple)

    def for_accelerator(self, acc_id: str, cloud: str | None = None) -> list[Price]:
        return [p for p in self.prices if p.accelerator == acc_id and (cloud is None or p.cloud == cloud.lower())]

    def clouds(self) -> list[str]:
        return sorted({p.cloud for p in self.prices})

    def accelerators(self) -> list[str]:
        return sorted({p.accelerator for p in self.prices})

    def cheapest(self, acc_id: str, cloud: str | None = None, spot: bool = False) -> Price | None:
        rows = self.for_accelerator(acc_id, cloud)
        if spot:
            rows = [p for p in rows if p.spot_usd_per_gpu_hour is not None]
            return min(rows, key=lambda p: p.spot_usd_per_gpu_hour) if rows else None
        return min(rows, key=lambda p: p.usd_per_gpu_hour) if rows else None

    def offers(self) -> list[tuple[Price, str, float]]:
        """(price row, market, $/GPU-h): the cheapest on-demand and the cheapest spot row per (cloud, accelerator)."""
        groups: dict[tuple[str, str], list[Price]] = defaultdict(list)
        for p in self.prices:
            groups[(p.cloud, p.accelerator)].append(p)
        out = []
        for (_cloud, _acc), rows in sorted(groups.items()):
            od = min(rows, key=lambda p: p.usd_per_gpu_hour)
            out.append((od, "on-demand", od.usd_per_gpu_hour))
            spot_rows = [p for p in rows if p.spot_usd_per_gpu_hour is not None]
            if spot_rows:
                sp = min(spot_rows, key=lambda p: p.spot_usd_per_gpu_hour)
                out.append((sp, "spot", sp.spot_usd_per_gpu_hour))
        return out


@cache
def _bundled() -> tuple[Price, ...]:
    return tuple(load_prices())


def bundled_catalog() -> PriceCatalog:
    return PriceCatalog(_bundled(), (f"bundled cloud_prices.csv: {PRICES_DATE}; Azure rows from SkyPilot's v6 file, "
                                     f"{BUNDLED_AZURE_DATE}; one RunPod row from the older v7 file",))


def price_catalog(prices_file: Path | None = None, skypilot: bool | None = None, sky_dir: Path | None = None) -> PriceCatalog:
    """The catalog a command uses: a user file alone if given; else SkyPilot's cached catalog (when found
    and `skypilot` is not False) for the clouds it covers, plus the bundled rows for the other clouds."""
    if prices_file is not None:
        rows = load_prices(Path(prices_file))
        dates = sorted({p.date for p in rows})
        return PriceCatalog(tuple(rows), (f"{prices_file} (prices of {', '.join(dates)})",))
    base = bundled_catalog()
    if skypilot is False:
        return base
    sky_root = sky_dir or skypilot_catalog_dir()
    sky_rows = load_skypilot_catalog(sky_root) if sky_root is not None else []
    if not sky_rows:
        if skypilot:
            raise FlopwiseError("no SkyPilot catalog found (looked in $FLOPWISE_SKY_CATALOG_DIR and ~/.sky/catalogs); "
                                "run `sky show-gpus` once to download it, or use the bundled prices")
        return base
    sky_clouds = {p.cloud for p in sky_rows}
    rows = tuple(sky_rows) + tuple(p for p in base.prices if p.cloud not in sky_clouds)
    srcs = sorted({f"{p.source}, prices of {p.date}" for p in sky_rows})
    rest = sorted({p.cloud for p in base.prices} - sky_clouds)
    if rest:
        srcs.append(f"bundled cloud_prices.csv for {', '.join(rest)}: {PRICES_DATE}")
    return PriceCatalog(rows, tuple(srcs))


def cheapest_price(acc_id: str, cloud: str | None = None, spot: bool = False) -> Price | None:
    """Cheapest on-demand (or spot) price for an accelerator in the bundled catalog (None if unlisted)."""
    return bundled_catalog().cheapest(acc_id, cloud, spot)


def cheapest_spot_price(acc_id: str, cloud: str | None = None) -> Price | None:
    """The bundled row with the cheapest spot price for an accelerator (None if no cloud sells it as spot)."""
    return bundled_catalog().cheapest(acc_id, cloud, spot=True)


def fill_default_prices(acc_id: str, price: float | None, spot: float | None = None) -> tuple[float | None, float | None, str | None]:
    """User prices where given, else the cheapest bundled on-demand and spot prices, and where they came from."""
    note = None
    if price is None:
        found = cheapest_price(acc_id)
        if found is not None:
            price, note = found.usd_per_gpu_hour, found.describe()
    if spot is None:
        found = cheapest_spot_price(acc_id)
        if found is not None:
            spot = found.spot_usd_per_gpu_hour
    return price, spot, note
