"""Money, energy and carbon: owned vs rented GPU-hours (TCO), electricity and CO2 of a run, spot overhead.

Pure functions returning typed results; each result carries `assumptions`, the list of inputs that went
into it in words (what `--explain` prints). Sources of the defaults are in ../shared/data/NOTES.md §3 and
docs/economics.md. SI inside (W, s, kWh only where the unit is named), dollars as `_usd`.

Formulas
- IT power per GPU (W) = TDP × load × utilization + node overhead per GPU. `load` is the share of TDP a
  busy accelerator draws (training ≈ 0.7-0.85 of max, NOTES §3.4); `utilization` the share of hours it is
  busy; the node overhead (CPUs, DRAM, NICs, switches, fans, PSU loss; NOTES §3.4) is drawn all the time.
- Facility power = IT power × PUE. Energy = facility power × hours. Electricity = energy × $/kWh.
- Carbon (location-based) = energy × grid intensity (gCO2e/kWh).
- Owned $/GPU-year = capex / depreciation years × (1 − residual) + colocation ($/kW-month × 12 × IT kW
  at full load) + staff share + electricity for the year. Owned $/GPU-hour (per *busy* hour) =
  that / (8760 × utilization).
- Break-even utilization u*: owned cost per busy hour equals the rental price. With F the yearly cost
  that does not depend on use (capex, colocation, staff, overhead power) and V the electricity of one
  busy accelerator-hour: F / (8760·u) + V = rent  ⇒  u* = F / (8760 · (rent − V)).
- Spot: preemptions are a Poisson process per node (rate from the interruption frequency per month);
  the job checkpoints at Daly's optimum interval; expected wall time from Daly 2006:
  T_w = M·e^{R/M}·(e^{(τ+δ)/M} − 1)·T_s/τ  (M job MTBF, R restart, δ checkpoint write, τ interval).
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from flopwise.errors import FlopwiseError

HOURS_PER_YEAR = 8760.0
SECONDS_PER_HOUR = 3600.0

# ---- named, documented defaults ---------------------------------------------------------------------------

#: PUE of a modern facility. Uptime Institute 2024: industry average 1.56, new large facilities 1.3 or
#: better, hyperscale ~1.1 (Google fleet 1.09-1.10), liquid-cooled GPU halls 1.1-1.25 (NOTES §3.1).
DEFAULT_PUE = 1.2
#: US industrial electricity, $/kWh: EIA Electric Power Monthly, US average industrial price ≈ 8 ¢/kWh
#: (2023-2024); state range 6.8-18 ¢ (NOTES §3.2).
DEFAULT_USD_PER_KWH = 0.08
#: Straight-line depreciation life of accelerators: 3 years (NOTES §3.5; 4-6 years is what hyperscalers
#: book for servers; 3 matches NVIDIA's two-year product cadence and rental-price decay).
DEFAULT_DEPRECIATION_YEARS = 3.0
#: Residual value at the end of the depreciation life (NOTES §3.5 suggests 10-20 %, an estimate);
#: flopwise defaults to none, the conservative choice.
DEFAULT_RESIDUAL_FRACTION = 0.0
#: Share of TDP a busy accelerator draws in sustained training (NOTES §3.4: 70-85 % of max).
DEFAULT_LOAD_FRACTION = 0.8
#: Host, network and chassis capex per GPU as a fraction of the GPU's price (flopwise estimate: NOTES
#: §3.6 uses $35k all-in for an H100 whose street price is $25-35k, i.e. ~+17 %; rounded up for networking).
DEFAULT_SERVER_CAPEX_FRACTION = 0.2
#: Colocation rent in $/kW-month of IT capacity; 0 = the owner's facility, no rent. (Primary North American
#: markets were quoted near $196/kW-month for 250-500 kW deployments in H2 2025 — set it for a colo.)
DEFAULT_COLO_USD_PER_KW_MONTH = 0.0
#: Grid carbon intensity when no region is given: world average 481 gCO2e/kWh (2023, Ember via Statista).
DEFAULT_GRID_G_PER_KWH = 481.0
DEFAULT_GRID_NAME = "world average 2023 (Ember)"

#: Spot interruptions per node per month. AWS's Spot Instance Advisor buckets the share of capacity
#: reclaimed over the trailing month into <5 %, 5-10 %, 10-15 %, 15-20 %, >20 %; third-party snapshots of it
#: (2025) put p4d (A100) at 5-10 % and p5 (H100) at 10-15/15-20 %. 0.20 per node-month is the conservative end.
DEFAULT_SPOT_INTERRUPTIONS_PER_NODE_MONTH = 0.20
#: Time to get going again after a preemption: re-acquiring spot capacity, boot, container pull, NCCL
#: init and checkpoint reload (flopwise choice; on-demand restarts are ~10 min in estimate/reliability.py,
#: spot adds waiting for capacity).
DEFAULT_SPOT_RESTART_S = 1800.0
#: Checkpoint write bandwidth per node (same default as estimate/reliability.py: Llama 3's 2 TB/s over
#: 2,048 nodes ≈ 1 GB/s per node).
DEFAULT_CHECKPOINT_BW_BYTES_PER_S_PER_NODE = 1.0e9
#: Bytes of a training checkpoint per parameter: bf16 weights + fp32 master + two Adam moments.
CHECKPOINT_BYTES_PER_PARAM = 14.0
HOURS_PER_MONTH = HOURS_PER_YEAR / 12.0


def _frac(x: float, name: str, allow_zero: bool = False) -> None:
    if not (x >= 0 if allow_zero else x > 0) or x > 1 or not math.isfinite(x):
        raise FlopwiseError(f"{name} must be a fraction in {'[0' if allow_zero else '(0'}, 1], got {x:g}")


def _pos(x: float, name: str, allow_zero: bool = False) -> None:
    if not math.isfinite(x) or not (x >= 0 if allow_zero else x > 0):
        raise FlopwiseError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {x:g}")


# ---- power and energy ------------------------------------------------------------------------------------

class PowerInputs(BaseModel):
    """How much power one accelerator and its share of the node draw, and what a kWh costs and emits."""

    tdp_w: float = Field(gt=0)
    node_overhead_w: float = Field(default=0.0, ge=0, description="per GPU: CPUs, DRAM, NICs, switches, fans, PSU loss")
    load_fraction: float = Field(default=DEFAULT_LOAD_FRACTION, gt=0, le=1)
    utilization: float = Field(default=1.0, ge=0, le=1, description="share of hours the accelerator is busy")
    pue: float = Field(default=DEFAULT_PUE, ge=1.0)
    usd_per_kwh: float = Field(default=DEFAULT_USD_PER_KWH, ge=0)
    grid_g_per_kwh: float = Field(default=DEFAULT_GRID_G_PER_KWH, ge=0)
    grid_name: str = DEFAULT_GRID_NAME
    overhead_source: str = ""

    @property
    def it_w_per_gpu(self) -> float:
        return self.tdp_w * self.load_fraction * self.utilization + self.node_overhead_w

    @property
    def facility_w_per_gpu(self) -> float:
        return self.it_w_per_gpu * self.pue

    def describe(self) -> list[str]:
        ov = f" ({self.overhead_source})" if self.overhead_source else ""
        return [
            f"power per GPU = TDP {self.tdp_w:.0f} W × load {self.load_fraction:.2f} × utilization {self.utilization:.2f}"
            f" + node overhead {self.node_overhead_w:.0f} W{ov} = {self.it_w_per_gpu:.0f} W IT",
            f"PUE {self.pue:.2f} (facility power / IT power; 1.2 = modern facility, industry average 1.56) "
            f"→ {self.facility_w_per_gpu:.0f} W at the meter",
            f"electricity ${self.usd_per_kwh:.3f}/kWh (default: US industrial average ≈ $0.08, EIA 2023-24)",
            f"grid {self.grid_g_per_kwh:.0f} gCO2e/kWh: {self.grid_name} (location-based)",
        ]


class EnergyEstimate(BaseModel):
    """Energy, electricity cost and CO2 of n GPUs running for some hours."""

    gpus: int
    hours: float
    gpu_hours: float
    it_kw: float
    facility_kw: float
    facility_mw: float
    energy_kwh: float
    electricity_usd: float
    co2e_tonnes: float
    grid_g_per_kwh: float
    assumptions: list[str]


def energy(gpus: int, hours: float, power: PowerInputs, what: str = "") -> EnergyEstimate:
    """kWh, $ and tCO2e of `gpus` accelerators for `hours` wall-clock hours, and the facility's power."""
    if gpus <= 0:
        raise FlopwiseError(f"the number of GPUs must be positive, got {gpus}")
    _pos(hours, "hours")
    it_kw = gpus * power.it_w_per_gpu / 1e3
    fac_kw = it_kw * power.pue
    kwh = fac_kw * hours
    usd = kwh * power.usd_per_kwh
    co2 = kwh * power.grid_g_per_kwh / 1e6
    assumptions = ([what] if what else []) + [f"{gpus:,} GPUs × {hours:,.1f} h = {gpus * hours:,.0f} GPU-hours"] + power.describe() + [
        f"energy = {fac_kw:,.1f} kW × {hours:,.1f} h = {kwh:,.0f} kWh; × ${power.usd_per_kwh:.3f} = ${usd:,.0f}; "
        f"× {power.grid_g_per_kwh:.0f} g/kWh = {co2:,.2f} tCO2e",
    ]
    return EnergyEstimate(gpus=gpus, hours=hours, gpu_hours=gpus * hours, it_kw=it_kw, facility_kw=fac_kw,
                          facility_mw=fac_kw / 1e3, energy_kwh=kwh, electricity_usd=usd, co2e_tonnes=co2,
                          grid_g_per_kwh=power.grid_g_per_kwh, assumptions=assumptions)


class PowerCostDifference(BaseModel):
    """Electricity cost of two set-ups running side by side for the same time."""

    a_w: float
    b_w: float
    hours: float
    a_kwh: float
    b_kwh: float
    a_usd: float
    b_usd: float
    difference_usd: float
    assumptions: list[str]


def electricity_difference(a_w: float, b_w: float, years: float, usd_per_kwh: float, pue: float = 1.0,
                           a_name: str = "A", b_name: str = "B") -> PowerCostDifference:
    """What set-up A costs in electricity more than B over `years` of continuous running at these powers."""
    _pos(years, "years")
    _pos(usd_per_kwh, "$/kWh", allow_zero=True)
    hours = years * HOURS_PER_YEAR
    a_kwh, b_kwh = a_w * pue * hours / 1e3, b_w * pue * hours / 1e3
    a_usd, b_usd = a_kwh * usd_per_kwh, b_kwh * usd_per_kwh
    return PowerCostDifference(
        a_w=a_w, b_w=b_w, hours=hours, a_kwh=a_kwh, b_kwh=b_kwh, a_usd=a_usd, b_usd=b_usd,
        difference_usd=a_usd - b_usd,
        assumptions=[f"{a_name}: {a_w:.0f} W, {b_name}: {b_w:.0f} W, drawn continuously (24/7) for {years:g} years = {hours:,.0f} h",
                     f"PUE {pue:g}, electricity ${usd_per_kwh:.3f}/kWh",
                     f"{a_name} {a_kwh:,.0f} kWh = ${a_usd:,.2f}; {b_name} {b_kwh:,.0f} kWh = ${b_usd:,.2f}; "
                     f"difference ${a_usd - b_usd:,.2f}"])


# ---- buy vs rent -------------------------------------------------------------------------------------------

class TcoInputs(BaseModel):
    """Owning accelerators: what they cost to buy, run and house."""

    accelerator: str
    gpu_price_usd: float = Field(gt=0, description="purchase price of one accelerator")
    price_source: str = ""
    server_capex_fraction: float = Field(default=DEFAULT_SERVER_CAPEX_FRACTION, ge=0)
    server_usd_per_gpu: float | None = Field(default=None, ge=0, description="overrides server_capex_fraction")
    depreciation_years: float = Field(default=DEFAULT_DEPRECIATION_YEARS, gt=0)
    residual_fraction: float = Field(default=DEFAULT_RESIDUAL_FRACTION, ge=0, lt=1)
    power: PowerInputs
    colo_usd_per_kw_month: float = Field(default=DEFAULT_COLO_USD_PER_KW_MONTH, ge=0)
    staff_usd_per_year: float = Field(default=0.0, ge=0, description="for the whole cluster")
    cluster_gpus: int = Field(default=8, gt=0, description="GPUs sharing the staff cost")
    rent_usd_per_gpu_hour: float | None = Field(default=None, gt=0)
    rent_source: str = ""

    @property
    def capex_per_gpu_usd(self) -> float:
        server = self.server_usd_per_gpu if self.server_usd_per_gpu is not None else self.gpu_price_usd * self.server_capex_fraction
        return self.gpu_price_usd + server


class TcoEstimate(BaseModel):
    """Owned cost per GPU-hour by part, and where buying beats renting."""

    accelerator: str
    utilization: float
    capex_per_gpu_usd: float
    capital_usd_per_year: float
    colo_usd_per_year: float
    staff_usd_per_year: float
    electricity_usd_per_year: float
    total_usd_per_year: float
    owned_usd_per_gpu_hour: float = Field(description="per busy GPU-hour at this utilization")
    capital_usd_per_gpu_hour: float
    colo_usd_per_gpu_hour: float
    staff_usd_per_gpu_hour: float
    electricity_usd_per_gpu_hour: float
    it_w_per_gpu: float
    rent_usd_per_gpu_hour: float | None
    breakeven_utilization: float | None = Field(description="buying is cheaper above this share of busy hours; None: never")
    breakeven_note: str
    buy_is_cheaper: bool | None
    assumptions: list[str]


def _yearly(inp: TcoInputs, utilization: float) -> dict[str, float]:
    p = inp.power.model_copy(update={"utilization": utilization})
    capital = inp.capex_per_gpu_usd * (1.0 - inp.residual_fraction) / inp.depreciation_years
    full_kw = (inp.power.tdp_w * inp.power.load_fraction + inp.power.node_overhead_w) / 1e3
    colo = inp.colo_usd_per_kw_month * 12.0 * full_kw
    staff = inp.staff_usd_per_year / inp.cluster_gpus
    elec = p.facility_w_per_gpu / 1e3 * HOURS_PER_YEAR * p.usd_per_kwh
    return {"capital": capital, "colo": colo, "staff": staff, "electricity": elec, "it_w": p.it_w_per_gpu, "full_kw": full_kw}


def tco(inp: TcoInputs, utilization: float = 0.8) -> TcoEstimate:
    """Owned $/GPU-hour at `utilization` (share of hours busy) and the break-even utilization vs renting."""
    _frac(utilization, "utilization")
    y = _yearly(inp, utilization)
    total = y["capital"] + y["colo"] + y["staff"] + y["electricity"]
    busy_h = HOURS_PER_YEAR * utilization
    pw = inp.power
    # fixed part F (does not depend on use) and the electricity V of one busy GPU-hour
    fixed = y["capital"] + y["colo"] + y["staff"] + pw.node_overhead_w * pw.pue / 1e3 * HOURS_PER_YEAR * pw.usd_per_kwh
    var = pw.tdp_w * pw.load_fraction * pw.pue / 1e3 * pw.usd_per_kwh
    rent = inp.rent_usd_per_gpu_hour
    be, note, cheaper = None, "no rental price to compare with", None
    if rent is not None:
        if rent <= var:
            note = f"never: renting (${rent:.2f}/h) costs less than the electricity of owning (${var:.3f}/busy h)"
        else:
            u = fixed / (HOURS_PER_YEAR * (rent - var))
            if u > 1:
                note = (f"never: even busy 100% of the time, owning costs ${fixed / HOURS_PER_YEAR + var:.2f}/GPU-h "
                        f"> renting ${rent:.2f}")
            else:
                be = u
                note = f"buying beats renting at ${rent:.2f}/GPU-h above {u:.0%} utilization ({u * HOURS_PER_YEAR:,.0f} busy h/year)"
        cheaper = total / busy_h < rent
    server = (f"${inp.server_usd_per_gpu:,.0f} server/network share per GPU" if inp.server_usd_per_gpu is not None
              else f"+{inp.server_capex_fraction:.0%} for server/network share (flopwise estimate)")
    assumptions = [
        f"purchase: {inp.accelerator} ${inp.gpu_price_usd:,.0f} ({inp.price_source or 'given'}) {server} "
        f"= ${inp.capex_per_gpu_usd:,.0f} per GPU",
        f"depreciation: straight line over {inp.depreciation_years:g} years, residual {inp.residual_fraction:.0%} "
        f"→ ${y['capital']:,.0f}/GPU-year",
        f"utilization {utilization:.0%}: {busy_h:,.0f} busy hours per GPU-year carry the whole year's cost",
        *pw.model_copy(update={"utilization": utilization}).describe()[:3],
        f"colocation ${inp.colo_usd_per_kw_month:,.0f}/kW-month on {y['full_kw']:.2f} kW IT per GPU at full load"
        + (" (0 = own facility, no rent)" if inp.colo_usd_per_kw_month == 0 else ""),
        f"staff ${inp.staff_usd_per_year:,.0f}/year shared by {inp.cluster_gpus} GPUs",
        "excluded: financing, networking beyond the server share, storage, software licences, failures/RMA",
    ]
    if rent is not None:
        assumptions.append(f"rent: ${rent:.2f}/GPU-h ({inp.rent_source or 'given'}), paid only for busy hours")
    return TcoEstimate(
        accelerator=inp.accelerator, utilization=utilization, capex_per_gpu_usd=inp.capex_per_gpu_usd,
        capital_usd_per_year=y["capital"], colo_usd_per_year=y["colo"], staff_usd_per_year=y["staff"],
        electricity_usd_per_year=y["electricity"], total_usd_per_year=total,
        owned_usd_per_gpu_hour=total / busy_h, capital_usd_per_gpu_hour=y["capital"] / busy_h,
        colo_usd_per_gpu_hour=y["colo"] / busy_h, staff_usd_per_gpu_hour=y["staff"] / busy_h,
        electricity_usd_per_gpu_hour=y["electricity"] / busy_h, it_w_per_gpu=y["it_w"],
        rent_usd_per_gpu_hour=rent, breakeven_utilization=be, breakeven_note=note, buy_is_cheaper=cheaper,
        assumptions=assumptions,
    )


# ---- spot ---------------------------------------------------------------------------------------------------

class SpotOverhead(BaseModel):
    """Expected slow-down of a synchronous job on preemptible capacity."""

    nodes: int
    interruptions_per_node_month: float
    mtbf_job_s: float
    checkpoint_write_s: float
    checkpoint_interval_s: float
    restart_s: float
    ideal_s: float
    expected_s: float
    overhead_fraction: float = Field(description="expected_s / ideal_s − 1")
    expected_interruptions: float
    feasible: bool
    assumptions: list[str]


def spot_overhead(ideal_s: float, n_gpus: int, gpus_per_node: int, params: float,
                  interruptions_per_node_month: float = DEFAULT_SPOT_INTERRUPTIONS_PER_NODE_MONTH,
                  restart_s: float = DEFAULT_SPOT_RESTART_S,
                  checkpoint_bw_bytes_per_s_per_node: float = DEFAULT_CHECKPOINT_BW_BYTES_PER_S_PER_NODE,
                  max_overhead: float = 1.0) -> SpotOverhead:
    """Daly 2006's expected wall time of a checkpointed job whose nodes are preempted as a Poisson process."""
    from flopwise.estimate.reliability import daly_interval_s

    _pos(ideal_s, "training time")
    _pos(interruptions_per_node_month, "spot interruptions per node-month", allow_zero=True)
    nodes = max(1, -(-n_gpus // gpus_per_node))
    lam = nodes * interruptions_per_node_month / (HOURS_PER_MONTH * SECONDS_PER_HOUR)
    delta = params * CHECKPOINT_BYTES_PER_PARAM / (checkpoint_bw_bytes_per_s_per_node * nodes)
    if lam == 0:
        return SpotOverhead(nodes=nodes, interruptions_per_node_month=0.0, mtbf_job_s=math.inf, checkpoint_write_s=delta,
                            checkpoint_interval_s=math.inf, restart_s=restart_s, ideal_s=ideal_s, expected_s=ideal_s,
                            overhead_fraction=0.0, expected_interruptions=0.0, feasible=True,
                            assumptions=["no spot interruptions assumed"])
    m = 1.0 / lam
    tau = min(daly_interval_s(delta, m), ideal_s)
    try:
        expected = m * math.exp(restart_s / m) * math.expm1((tau + delta) / m) * ideal_s / tau
    except OverflowError:
        expected = math.inf
    over = expected / ideal_s - 1.0
    feasible = math.isfinite(expected) and over <= max_overhead
    return SpotOverhead(
        nodes=nodes, interruptions_per_node_month=interruptions_per_node_month, mtbf_job_s=m, checkpoint_write_s=delta,
        checkpoint_interval_s=tau, restart_s=restart_s, ideal_s=ideal_s, expected_s=expected, overhead_fraction=over,
        expected_interruptions=expected * lam, feasible=feasible,
        assumptions=[
            f"spot: {interruptions_per_node_month:.0%} of nodes preempted per month (AWS Spot Advisor's top bucket is >20%), "
            f"{nodes} nodes → job MTBF {m / 3600:,.1f} h",
            f"checkpoint {CHECKPOINT_BYTES_PER_PARAM:g} B/param at {checkpoint_bw_bytes_per_s_per_node / 1e9:g} GB/s per node "
            f"= {delta:,.0f} s, every {tau / 60:,.0f} min (Daly's optimum); restart after preemption {restart_s / 60:.0f} min",
            f"expected time × {1 + over:.3f} (Daly 2006), {expected * lam:,.1f} preemptions",
        ])


def chinchilla_tokens(params: float, tokens_per_param: float = 20.0) -> float:
    """Hoffmann et al. 2022's rule of thumb: about 20 training tokens per parameter at the compute optimum."""
    return params * tokens_per_param


# ---- FLOPs → GPU-hours → dollars at an assumed MFU ---------------------------------------------------------

class RunCost(BaseModel):
    """A run's GPU-hours, days and dollars from its FLOPs, the accelerator's peak and an assumed MFU."""

    flops: float
    peak_flops_per_s: float
    mfu: float
    gpu_hours: float
    gpus: int | None
    days: float | None
    usd_per_gpu_hour: float | None
    cost_usd: float | None
    assumptions: list[str]


def run_cost(flops: float, peak_flops_per_s: float, mfu: float, usd_per_gpu_hour: float | None = None,
             gpus: int | None = None, what: str = "", price_source: str = "") -> RunCost:
    """GPU-hours = FLOPs / (peak × MFU) / 3600; cost = GPU-hours × price; days = GPU-hours / GPUs / 24."""
    _pos(flops, "FLOPs")
    _pos(peak_flops_per_s, "peak FLOP/s")
    _frac(mfu, "MFU")
    gpu_h = flops / (peak_flops_per_s * mfu) / SECONDS_PER_HOUR
    cost = gpu_h * usd_per_gpu_hour if usd_per_gpu_hour is not None else None
    days = gpu_h / gpus / 24.0 if gpus else None
    a = ([what] if what else []) + [
        f"{flops:.3g} FLOPs at {mfu:.0%} MFU of {peak_flops_per_s / 1e12:,.0f} TFLOP/s dense peak "
        f"= {peak_flops_per_s * mfu / 1e12:,.1f} TFLOP/s per GPU → {gpu_h:,.0f} GPU-hours",
    ]
    if usd_per_gpu_hour is not None:
        a.append(f"× ${usd_per_gpu_hour:.2f}/GPU-hour{f' ({price_source})' if price_source else ''} = ${cost:,.0f}")
    if gpus:
        a.append(f"on {gpus:,} GPUs: {days:,.1f} days (no failures, no restarts)")
    return RunCost(flops=flops, peak_flops_per_s=peak_flops_per_s, mfu=mfu, gpu_hours=gpu_h, gpus=gpus, days=days,
                   usd_per_gpu_hour=usd_per_gpu_hour, cost_usd=cost, assumptions=a)
