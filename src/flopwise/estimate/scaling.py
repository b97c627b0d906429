"""Compute-optimal scaling: how big a model, how many tokens, what loss, for a given budget.

Pure functions over small, frozen law objects; every law carries its source. Conventions:

- Training compute C = 6·N·D FLOPs (N parameters, D training tokens), the convention every law here was
  fitted with (Kaplan et al. 2020 §2.1; Hoffmann et al. 2022 §3.3 and App. F). Inference costs 2·N FLOPs
  per token (forward pass only), as in Sardana et al. 2023.
- Every law has a power-law compute-optimal frontier N_opt(C) = g·C^a, and hence D_opt(C) = C / (6·N_opt).
- Losses are natural-log cross-entropy per token *on the data set and tokenizer the law was fitted on*
  (MassiveText for Hoffmann et al., WebText2 for Kaplan et al.); they compare within a law, not across laws.
- Inference-aware sizing (Sardana et al. 2023): for a target loss ℓ and lifetime inference tokens D_inf,
  minimise w_train·6·N·D + w_infer·2·N·D_inf subject to L(N, D) = ℓ. With w = 1 the objective is FLOPs;
  with w = dollars per FLOP (price / (MFU · peak)) it is money.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from flopwise.errors import FlopwiseError, unknown

TRAIN_FLOPS_PER_PARAM_TOKEN = 6.0
INFERENCE_FLOPS_PER_PARAM_TOKEN = 2.0
# Hoffmann et al. 2022, Table 3: the compute used to train Gopher, their unit of budget ("1 Gopher unit").
GOPHER_BUDGET_FLOPS = 5.76e23
PF_DAY_FLOPS = 1e15 * 86400.0

# Assumed fraction of the accelerator's dense bf16 peak achieved, for turning FLOPs into hours and dollars.
# 0.40 is typical of well-tuned large dense pre-training runs (Megatron-LM, PaLM, Llama report 38-55%).
DEFAULT_TRAIN_MFU = 0.40
# Serving: prefill is compute-bound, decode memory-bound; batched serving reaches well below training MFU.
# A round planning value for the inference side of the total-cost analysis; override with --inference-mfu.
DEFAULT_INFERENCE_MFU = 0.20
# GPUs assumed for wall-clock time when the user gives none.
DEFAULT_GPUS = 1024


# ---- loss functions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChinchillaLoss:
    """L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022, eq. 2)."""

    e: float
    a_coef: float
    b_coef: float
    alpha: float
    beta: float

    def loss(self, params: float, tokens: float) -> float:
        return self.e + self.a_coef / params**self.alpha + self.b_coef / tokens**self.beta

    def tokens_for_loss(self, params: float, target_loss: float) -> float:
        """Training tokens a model of `params` needs to reach `target_loss` (inf if it never can)."""
        rest = target_loss - self.e - self.a_coef / params**self.alpha
        return (self.b_coef / rest) ** (1.0 / self.beta) if rest > 0 else math.inf

    def min_params_for_loss(self, target_loss: float) -> float:
        """Smallest model that reaches `target_loss` with infinite data."""
        if target_loss <= self.e:
            raise FlopwiseError(f"target loss {target_loss:.4g} is at or below this law's irreducible loss E = {self.e:.4g}")
        return (self.a_coef / (target_loss - self.e)) ** (1.0 / self.alpha)

    # closed-form efficient frontier (Hoffmann et al. 2022, eq. 4)
    @property
    def frontier_exponent(self) -> float:
        return self.beta / (self.alpha + self.beta)

    @property
    def frontier_coef(self) -> float:
        """g in N_opt = g·C^a (C in FLOPs): G·6^-a with G = (alpha·A / (beta·B))^(1/(alpha+beta))."""
        big_g = (self.alpha * self.a_coef / (self.beta * self.b_coef)) ** (1.0 / (self.alpha + self.beta))
        return big_g * 6.0 ** (-self.frontier_exponent)


@dataclass(frozen=True)
class KaplanLoss:
    """L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (Kaplan et al. 2020, eq. 1.5; N non-embedding)."""

    n_c: float = 8.8e13
    d_c: float = 5.4e13
    alpha_n: float = 0.076
    alpha_d: float = 0.095

    def loss(self, params: float, tokens: float) -> float:
        return ((self.n_c / params) ** (self.alpha_n / self.alpha_d) + self.d_c / tokens) ** self.alpha_d


LossFunction = ChinchillaLoss | KaplanLoss


# ---- laws ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScalingLaw:
    """A compute-optimal frontier N_opt = g·C^a with the loss function used to score it, and where both come from."""

    id: str
    name: str
    source: str
    exponent: float  # a in N_opt ∝ C^a
    coef: float  # g in N_opt = g·C^a, C in FLOPs
    loss_fn: LossFunction
    loss_source: str
    calibration: str
    aliases: tuple[str, ...] = ()

    # frontier
    def params_for_compute(self, flops: float) -> float:
        return self.coef * flops**self.exponent

    def tokens_for_compute(self, flops: float) -> float:
        return flops / (TRAIN_FLOPS_PER_PARAM_TOKEN * self.params_for_compute(flops))

    def compute_for_params(self, params: float) -> float:
        return (params / self.coef) ** (1.0 / self.exponent)

    def compute_for_tokens(self, tokens: float) -> float:
        # D = C^(1-a) / (6g)  =>  C = (6·g·D)^(1/(1-a))
        return (TRAIN_FLOPS_PER_PARAM_TOKEN * self.coef * tokens) ** (1.0 / (1.0 - self.exponent))

    def loss(self, params: float, tokens: float) -> float:
        return self.loss_fn.loss(params, tokens)

    def frontier_loss(self, flops: float) -> float:
        return self.loss(self.params_for_compute(flops), self.tokens_for_compute(flops))

    def compute_for_loss(self, target_loss: float) -> float | None:
        """Training FLOPs at which a compute-optimal model (on this frontier) reaches `target_loss`."""
        lo, hi = math.log(1e6), math.log(1e45)
        if self.frontier_loss(math.exp(hi)) > target_loss:
            return None
        if self.frontier_loss(math.exp(lo)) <= target_loss:
            return math.exp(lo)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if self.frontier_loss(math.exp(mid)) > target_loss:
                lo = mid
            else:
                hi = mid
        return math.exp(0.5 * (lo + hi))


def chinchilla_law(law_id: str, name: str, source: str, loss: ChinchillaLoss, loss_source: str,
                   calibration: str, aliases: tuple[str, ...] = ()) -> ScalingLaw:
    """A law whose frontier is the closed-form minimum of its own parametric loss (eq. 4)."""
    return ScalingLaw(law_id, name, source, loss.frontier_exponent, loss.frontier_coef, loss, loss_source,
                      calibration, aliases)


def coef_from_params_at(params: float, flops: float, exponent: float) -> float:
    return params / flops**exponent


HOFFMANN = "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models (arXiv:2203.15556)"
KAPLAN = "Kaplan et al. 2020, Scaling Laws for Neural Language Models (arXiv:2001.08361)"
SARDANA = "Sardana et al. 2023, Beyond Chinchilla-Optimal: Accounting for Inference in Language Model Scaling Laws (arXiv:2401.00448)"

# Approach 3 as printed: Appendix D.2, eq. 10 (E = 1.69, A = 406.4, B = 410.7, alpha = 0.34, beta = 0.28).
CHINCHILLA_3_PRINTED = ChinchillaLoss(e=1.69, a_coef=406.4, b_coef=410.7, alpha=0.34, beta=0.28)
# The same fit with the exponents to three digits (alpha = 0.336, beta = 0.283), as used by Sardana et al.
# (their Appendix A and released code). a = beta/(alpha+beta) = 0.457 matches the paper's Table 2 (0.46),
# its Figure 4 (40B parameters at the Gopher budget) and Table A3 to within 10%; the two-digit rounding
# does not (a = 0.452, 32B, and about twice Table A3's tokens).
CHINCHILLA_3_SARDANA = ChinchillaLoss(e=1.69, a_coef=406.4, b_coef=410.7, alpha=0.336, beta=0.283)

_A3_LOSS_NOTE = f"Chinchilla approach 3 parametric fit, as printed ({HOFFMANN}, App. D.2 eq. 10)"

# Approaches 1 and 2 publish a frontier, not a loss function: (a, g) are a least-squares fit in log space to
# the FLOPs and tokens of all nine rows of their published projections (see fit_frontier and the tests).
_A1_EXPONENT = 0.4981
_A1_PARAMS_AT_1E21 = 2.855e9
_A2_EXPONENT = 0.4900
_A2_PARAMS_AT_1E21 = 2.817e9

# Kaplan et al. 2020, eq. 6.1 / Figure 14: N_opt = 1.3e9 · C_min^0.73 (non-embedding parameters, C_min in
# PF-days). Training at the critical batch size costs twice the minimum compute (their eq. 5.5 with
# B = B_crit), so C_min = C / 2: this reproduces the 4.68B Hoffmann et al. (App. D.4) derive from Kaplan
# et al. for 10^21 FLOPs.
_KAPLAN_EXPONENT = 0.73
_KAPLAN_COEF = 1.3e9 * (1.0 / (2.0 * PF_DAY_FLOPS)) ** 0.73

LAWS: dict[str, ScalingLaw] = {
    law.id: law
    for law in (
        ScalingLaw(
            "chinchilla-1", "Chinchilla approach 1 (minimum over training curves)",
            f"{HOFFMANN}, §3.1, Table 2 (a = 0.50) and Table 3",
            _A1_EXPONENT, coef_from_params_at(_A1_PARAMS_AT_1E21, 1e21, _A1_EXPONENT),
            CHINCHILLA_3_PRINTED, _A3_LOSS_NOTE,
            "N_opt = g·C^a fitted to Table 3 (least squares in log space over FLOPs and tokens of its nine rows): "
            "a = 0.498 (paper: 0.50, 10-90% range 0.488-0.502), 2.86B parameters at 1e21 FLOPs (paper App. D.4: 2.86B)",
            aliases=("chinchilla", "chinchilla-approach-1", "hoffmann", "approach-1"),
        ),
        ScalingLaw(
            "chinchilla-2", "Chinchilla approach 2 (IsoFLOP profiles)",
            f"{HOFFMANN}, §3.2, Table 2 (a = 0.49) and Table A3",
            _A2_EXPONENT, coef_from_params_at(_A2_PARAMS_AT_1E21, 1e21, _A2_EXPONENT),
            CHINCHILLA_3_PRINTED, _A3_LOSS_NOTE,
            "N_opt = g·C^a fitted to Table A3, approach 2 columns (least squares in log space): a = 0.490 (paper: 0.49)",
            aliases=("chinchilla-approach-2", "approach-2", "isoflop"),
        ),
        chinchilla_law(
            "chinchilla-3", "Chinchilla approach 3 (parametric loss, as printed)",
            f"{HOFFMANN}, §3.3 eq. 2 and 4, App. D.2 eq. 10: E = 1.69, A = 406.4, B = 410.7, alpha = 0.34, beta = 0.28",
            CHINCHILLA_3_PRINTED, _A3_LOSS_NOTE,
            "closed-form minimum of the printed loss under C = 6ND (eq. 4): a = 0.452; the two-digit exponents put "
            "the optimum at about twice the tokens of the paper's own Table A3 (see chinchilla-3-sardana)",
            aliases=("chinchilla-approach-3", "approach-3", "parametric"),
        ),
        chinchilla_law(
            "chinchilla-3-sardana", "Chinchilla approach 3 with alpha = 0.336, beta = 0.283 (as used by Sardana et al.)",
            f"{HOFFMANN}, eq. 10 with exponents to three digits, as in {SARDANA}, App. A",
            CHINCHILLA_3_SARDANA,
            f"Chinchilla approach 3 fit, E = 1.69, A = 406.4, B = 410.7, alpha = 0.336, beta = 0.283 ({SARDANA})",
            "closed-form minimum of the loss under C = 6ND: a = 0.457; reproduces Hoffmann et al. Table A3 "
            "(approach 3) within 10% and Figure 4's 40B at the Gopher budget",
            aliases=("sardana", "chinchilla-3-precise"),
        ),
        ScalingLaw(
            "kaplan", "Kaplan et al. 2020 (N ∝ C^0.73)",
            f"{KAPLAN}, eq. 6.1 and Figure 14: N_opt = 1.3e9 · (C_min / PF-day)^0.73, non-embedding parameters",
            _KAPLAN_EXPONENT, _KAPLAN_COEF, KaplanLoss(),
            f"{KAPLAN}, eq. 1.5 (alpha_N = 0.076, alpha_D = 0.095, N_c = 8.8e13, D_c = 5.4e13); WebText2 nats, "
            "not comparable with Chinchilla losses",
            "C_min = C/2 (training at the critical batch size, eq. 5.5), D = C/(6N); 10x compute -> 5.4x "
            "parameters, 1.9x tokens (Hoffmann et al. quote 5.5x and 1.8x); 4.68B at 1e21 FLOPs as in Hoffmann App. D.4",
            aliases=("kaplan-2020", "openai"),
        ),
    )
}
DEFAULT_LAW = "chinchilla-1"
# The parametric loss used for inference-aware sizing when the chosen law has no Chinchilla-form loss.
DEFAULT_LOSS_LAW = "chinchilla-3"


def law_ids() -> list[str]:
    return list(LAWS)


def get_law(name: str) -> ScalingLaw:
    """A law by id or alias; unknown names get close matches."""
    key = name.strip().lower()
    if key in LAWS:
        return LAWS[key]
    for law in LAWS.values():
        if key in law.aliases:
            return law
    raise unknown("scaling law", name, list(LAWS), hint="see --law in `flopwise scale --help`")


def parametric_law_for(law: ScalingLaw) -> ScalingLaw:
    """The law itself when it has a Chinchilla-form loss whose minimum is its frontier, else chinchilla-3."""
    if isinstance(law.loss_fn, ChinchillaLoss) and abs(law.exponent - law.loss_fn.frontier_exponent) < 1e-12:
        return law
    return LAWS[DEFAULT_LOSS_LAW]


def fit_frontier(rows: Sequence[tuple[float, float, float]]) -> tuple[float, float]:
    """(a, N_opt at 1e21 FLOPs) of N_opt = g·C^a fitted to published (params, flops, tokens) rows.

    Least squares in log space over both columns a table gives for each model size: log C predicted from
    log N, and log D predicted through D = C / (6N).
    """
    n = np.log(np.array([r[0] for r in rows], dtype=float))
    c = np.log(np.array([r[1] for r in rows], dtype=float))
    d = np.log(np.array([r[2] for r in rows], dtype=float))
    # log C = k + m·log N ;  log D + log 6 + log N = k + m·log N
    x = np.concatenate([n, n])
    y = np.concatenate([c, d + math.log(TRAIN_FLOPS_PER_PARAM_TOKEN) + n])
    m, k = np.polyfit(x, y, 1)
    a = 1.0 / m
    g = math.exp(-k / m)
    return float(a), float(g * 1e21**a)


# ---- results -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ComputeRate:
    """What turns FLOPs into hours and dollars: accelerator, assumed MFU, price."""

    accelerator: str
    peak_flops_per_s: float  # dense bf16 peak of one accelerator
    mfu: float = DEFAULT_TRAIN_MFU
    usd_per_gpu_hour: float | None = None
    price_source: str = ""
    gpus: int = DEFAULT_GPUS
    inference_mfu: float = DEFAULT_INFERENCE_MFU

    def gpu_seconds(self, flops: float, mfu: float | None = None) -> float:
        return flops / (self.peak_flops_per_s * (mfu or self.mfu))

    def usd_per_flop(self, mfu: float) -> float | None:
        if self.usd_per_gpu_hour is None:
            return None
        return self.usd_per_gpu_hour / 3600.0 / (self.peak_flops_per_s * mfu)

    def flops_for_usd(self, usd: float) -> float:
        if self.usd_per_gpu_hour is None:
            raise FlopwiseError(f"no price for {self.accelerator}: give --price-per-gpu-hour")
        return usd / self.usd_per_gpu_hour * 3600.0 * self.peak_flops_per_s * self.mfu


@dataclass(frozen=True)
class CostEstimate:
    accelerator: str
    gpus: int
    mfu: float
    peak_flops_per_s: float
    achieved_flops_per_s_per_gpu: float
    gpu_hours: float
    wall_s: float
    usd_per_gpu_hour: float | None
    cost_usd: float | None
    price_source: str


def training_cost(flops: float, rate: ComputeRate) -> CostEstimate:
    gpu_s = rate.gpu_seconds(flops)
    gpu_hours = gpu_s / 3600.0
    return CostEstimate(
        accelerator=rate.accelerator, gpus=rate.gpus, mfu=rate.mfu, peak_flops_per_s=rate.peak_flops_per_s,
        achieved_flops_per_s_per_gpu=rate.peak_flops_per_s * rate.mfu, gpu_hours=gpu_hours,
        wall_s=gpu_s / rate.gpus,
        usd_per_gpu_hour=rate.usd_per_gpu_hour,
        cost_usd=None if rate.usd_per_gpu_hour is None else gpu_hours * rate.usd_per_gpu_hour,
        price_source=rate.price_source,
    )


@dataclass(frozen=True)
class LifetimePoint:
    """One (N, D) choice with its training and lifetime-inference compute (and money, given a price)."""

    params: float
    tokens: float
    tokens_per_param: float
    loss: float
    train_flops: float
    inference_flops: float
    total_flops: float
    train_cost_usd: float | None = None
    inference_cost_usd: float | None = None
    total_cost_usd: float | None = None


@dataclass(frozen=True)
class InferenceAwareResult:
    """Sardana et al. 2023: the model minimising training + inference for a target loss, vs Chinchilla's."""

    objective: str  # "flops" or "usd"
    law: str  # the parametric loss law used
    target_loss: float
    inference_tokens: float
    chinchilla: LifetimePoint  # training-compute-optimal model for the target loss
    optimal: LifetimePoint  # lifetime-optimal model for the target loss
    params_ratio: float  # optimal / chinchilla
    tokens_ratio: float
    saving_flops: float  # chinchilla.total - optimal.total
    saving_fraction_flops: float
    saving_usd: float | None = None
    saving_fraction_usd: float | None = None


@dataclass(frozen=True)
class ModelComparison:
    """How far a trained model sits from compute-optimal at its own training compute."""

    model: str
    params: float
    tokens: float
    flops: float  # 6·N·D
    tokens_per_param: float
    optimal_params: float
    optimal_tokens: float
    optimal_tokens_per_param: float
    params_ratio: float  # N / N_opt (>1: oversized)
    tokens_ratio: float  # D / D_opt (<1: under-trained, >1: over-trained)
    verdict: str
    loss: float
    optimal_loss: float
    loss_gap: float  # loss - optimal_loss (>0: worse than compute-optimal at the same compute)
    equivalent_flops: float | None  # compute a compute-optimal model needs for the same loss
    compute_efficiency: float | None  # equivalent_flops / flops (1 = no compute wasted)


@dataclass(frozen=True)
class Curve:
    label: str
    x: list[float]
    y: list[float]
    marker_x: float | None = None
    marker_y: float | None = None


@dataclass(frozen=True)
class ScalingPlots:
    law: str  # the law whose optima are marked
    isoflop_loss: str  # whose loss function the IsoFLOP curves use
    loss_law: str  # the parametric law of the cost-vs-size curves
    isoflop: list[Curve]  # x: parameters, y: loss, one curve per budget; marker at the law's optimum
    loss_vs_compute: list[Curve]  # x: training FLOPs, y: loss on the frontier; points for compared models
    cost_vs_size: list[Curve]  # x: parameters, y: lifetime cost at the target loss, one per inference lifetime
    cost_unit: str  # "usd" or "flops"
    target_loss: float


@dataclass(frozen=True)
class ScalingResult:
    law: str
    law_name: str
    law_source: str
    law_calibration: str
    given: str  # compute | params | tokens | usd | model
    given_value: float | str
    params: float
    tokens: float
    flops: float
    tokens_per_param: float
    gopher_units: float  # flops / Gopher's training compute (Hoffmann et al. Table 3)
    loss: float
    loss_source: str
    cost: CostEstimate | None = None
    inference_compute_optimal: InferenceAwareResult | None = None
    inference_cost_optimal: InferenceAwareResult | None = None
    models: list[ModelComparison] = field(default_factory=list)
    plots: ScalingPlots | None = None
    notes: list[str] = field(default_factory=list)


# ---- inference-aware sizing ----------------------------------------------------------------------------

def _lifetime_point(loss_fn: ChinchillaLoss, params: float, tokens: float, inference_tokens: float,
                    usd_train: float | None, usd_infer: float | None) -> LifetimePoint:
    train = TRAIN_FLOPS_PER_PARAM_TOKEN * params * tokens
    infer = INFERENCE_FLOPS_PER_PARAM_TOKEN * params * inference_tokens
    tc = None if usd_train is None else train * usd_train
    ic = None if usd_infer is None else infer * usd_infer
    return LifetimePoint(
        params=params, tokens=tokens, tokens_per_param=tokens / params, loss=loss_fn.loss(params, tokens),
        train_flops=train, inference_flops=infer, total_flops=train + infer,
        train_cost_usd=tc, inference_cost_usd=ic, total_cost_usd=None if tc is None or ic is None else tc + ic,
    )


def lifetime_optimal_params(loss_fn: ChinchillaLoss, target_loss: float, inference_tokens: float,
                            w_train: float = 1.0, w_infer: float = 1.0) -> float:
    """N minimising w_train·6·N·D(N) + w_infer·2·N·D_inf with D(N) the tokens that reach `target_loss`.

    The objective is infinite at the smallest model that can reach the loss (it needs infinite data) and
    grows linearly for large models; a log-spaced scan brackets the minimum and golden-section search
    refines it.
    """
    if inference_tokens < 0:
        raise FlopwiseError(f"inference tokens must be zero or positive, got {inference_tokens:g}")
    n_min = loss_fn.min_params_for_loss(target_loss)

    def objective(log_n: float) -> float:
        n = math.exp(log_n)
        d = loss_fn.tokens_for_loss(n, target_loss)
        return w_train * TRAIN_FLOPS_PER_PARAM_TOKEN * n * d + w_infer * INFERENCE_FLOPS_PER_PARAM_TOKEN * n * inference_tokens

    lo = math.log(n_min) + 1e-9
    grid = np.linspace(lo, lo + math.log(1e8), 4001)
    vals = np.array([objective(x) for x in grid])
    i = int(np.argmin(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    invphi = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - invphi * (b - a), a + invphi * (b - a)
    fc, fd = objective(c), objective(d)
    for _ in range(100):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - invphi * (b - a)
            fc = objective(c)
        else:
            a, c, fc = c, d, fd
            d = a + invphi * (b - a)
            fd = objective(d)
    return math.exp(0.5 * (a + b))


def inference_aware(law: ScalingLaw, target_loss: float, inference_tokens: float,
                    rate: ComputeRate | None = None, objective: str = "flops") -> InferenceAwareResult:
    """Sardana et al. 2023: lifetime-optimal (N, D) for `target_loss` and `inference_tokens`, vs Chinchilla-optimal.

    `law` must have a Chinchilla-form loss (use parametric_law_for). objective "usd" weights training and
    inference FLOPs by their dollars per FLOP (price / (MFU · peak)), which differ through the two MFUs.
    """
    loss_fn = law.loss_fn
    if not isinstance(loss_fn, ChinchillaLoss):
        raise FlopwiseError(f"inference-aware sizing needs a parametric loss law; {law.id} has none")
    usd_t = rate.usd_per_flop(rate.mfu) if rate else None
    usd_i = rate.usd_per_flop(rate.inference_mfu) if rate else None
    if objective == "usd":
        if usd_t is None or usd_i is None:
            raise FlopwiseError("a cost-optimal size needs a price: give --gpu (and --price-per-gpu-hour if unlisted)")
        w_t, w_i = usd_t, usd_i
    elif objective == "flops":
        w_t, w_i = 1.0, 1.0
    else:
        raise FlopwiseError(f"unknown objective '{objective}'; accepted: flops, usd")
    # Chinchilla: minimum training compute for the loss (the same search with no inference term).
    n0 = lifetime_optimal_params(loss_fn, target_loss, 0.0)
    n1 = lifetime_optimal_params(loss_fn, target_loss, inference_tokens, w_t, w_i)
    p0 = _lifetime_point(loss_fn, n0, loss_fn.tokens_for_loss(n0, target_loss), inference_tokens, usd_t, usd_i)
    p1 = _lifetime_point(loss_fn, n1, loss_fn.tokens_for_loss(n1, target_loss), inference_tokens, usd_t, usd_i)
    saving_usd = frac_usd = None
    if p0.total_cost_usd is not None and p1.total_cost_usd is not None:
        saving_usd = p0.total_cost_usd - p1.total_cost_usd
        frac_usd = saving_usd / p0.total_cost_usd
    return InferenceAwareResult(
        objective=objective, law=law.id, target_loss=target_loss, inference_tokens=inference_tokens,
        chinchilla=p0, optimal=p1, params_ratio=n1 / n0, tokens_ratio=p1.tokens / p0.tokens,
        saving_flops=p0.total_flops - p1.total_flops,
        saving_fraction_flops=(p0.total_flops - p1.total_flops) / p0.total_flops,
        saving_usd=saving_usd, saving_fraction_usd=frac_usd,
    )


# ---- comparing trained models ---------------------------------------------------------------------------

# A model within this factor of the compute-optimal token count is called compute-optimal.
COMPUTE_OPTIMAL_BAND = 1.25


def compare_model(law: ScalingLaw, name: str, params: float, tokens: float) -> ModelComparison:
    """Over- or under-training of a model of `params` trained on `tokens`, against `law` at the same compute."""
    flops = TRAIN_FLOPS_PER_PARAM_TOKEN * params * tokens
    n_opt, d_opt = law.params_for_compute(flops), law.tokens_for_compute(flops)
    ratio = tokens / d_opt
    if ratio > COMPUTE_OPTIMAL_BAND:
        verdict = f"over-trained: {ratio:.1f}x the compute-optimal tokens, {n_opt / params:.1f}x smaller than compute-optimal"
    elif ratio < 1.0 / COMPUTE_OPTIMAL_BAND:
        verdict = f"under-trained: {1 / ratio:.1f}x too few tokens, {params / n_opt:.1f}x larger than compute-optimal"
    else:
        verdict = "close to compute-optimal"
    loss = law.loss(params, tokens)
    opt_loss = law.loss(n_opt, d_opt)
    eq = law.compute_for_loss(loss)
    return ModelComparison(
        model=name, params=params, tokens=tokens, flops=flops, tokens_per_param=tokens / params,
        optimal_params=n_opt, optimal_tokens=d_opt, optimal_tokens_per_param=d_opt / n_opt,
        params_ratio=params / n_opt, tokens_ratio=ratio, verdict=verdict,
        loss=loss, optimal_loss=opt_loss, loss_gap=loss - opt_loss,
        equivalent_flops=eq, compute_efficiency=None if eq is None else eq / flops,
    )


# ---- plot data ----------------------------------------------------------------------------------------------

def isoflop_curves(law: ScalingLaw, budgets: Sequence[float], points: int = 60) -> list[Curve]:
    """Loss against model size along C = 6ND for each budget (Hoffmann et al. Figures 3 and 4)."""
    out = []
    for c in budgets:
        n_opt = law.params_for_compute(c)
        ns = np.geomspace(n_opt / 30.0, n_opt * 30.0, points)
        ls = [law.loss(n, c / (TRAIN_FLOPS_PER_PARAM_TOKEN * n)) for n in ns]
        out.append(Curve(f"{c:.0e} FLOPs", [float(n) for n in ns], [float(v) for v in ls],
                         float(n_opt), float(law.frontier_loss(c))))
    return out


def loss_vs_compute_curves(law: ScalingLaw, lo_flops: float, hi_flops: float,
                           models: Sequence[ModelComparison] = (), points: int = 80) -> list[Curve]:
    cs = np.geomspace(lo_flops, hi_flops, points)
    out = [Curve(f"compute-optimal ({law.id})", [float(c) for c in cs], [float(law.frontier_loss(c)) for c in cs])]
    for m in models:
        out.append(Curve(m.model, [m.flops], [m.loss], m.flops, m.loss))
    return out


def cost_vs_size_curves(law: ScalingLaw, target_loss: float, lifetimes: Sequence[float],
                        rate: ComputeRate | None = None, points: int = 80) -> tuple[list[Curve], str]:
    """Lifetime cost (training + inference) against model size at a fixed loss, one curve per inference lifetime."""
    loss_fn = law.loss_fn
    assert isinstance(loss_fn, ChinchillaLoss)
    usd_t = rate.usd_per_flop(rate.mfu) if rate else None
    usd_i = rate.usd_per_flop(rate.inference_mfu) if rate else None
    unit = "usd" if usd_t is not None and usd_i is not None else "flops"
    w = (usd_t, usd_i) if unit == "usd" else (1.0, 1.0)
    best_n = [lifetime_optimal_params(loss_fn, target_loss, life, *w) for life in lifetimes]
    n_min = loss_fn.min_params_for_loss(target_loss)
    # from a third of the smallest optimum (the cost explodes towards n_min) to 10x the largest
    ns = np.geomspace(max(n_min * 1.05, min(best_n) / 3.0), max(best_n) * 10.0, points)
    out = []
    for life, n_best in zip(lifetimes, best_n):
        ys = []
        for n in ns:
            p = _lifetime_point(loss_fn, float(n), loss_fn.tokens_for_loss(float(n), target_loss), life, usd_t, usd_i)
            ys.append(p.total_cost_usd if unit == "usd" else p.total_flops)
        best = _lifetime_point(loss_fn, n_best, loss_fn.tokens_for_loss(n_best, target_loss), life, usd_t, usd_i)
        out.append(Curve(f"{life:.0e} inference tokens", [float(n) for n in ns], [float(y) for y in ys],
                         n_best, best.total_cost_usd if unit == "usd" else best.total_flops))
    return out, unit


def default_lifetimes(inference_tokens: float | None, train_tokens: float) -> list[float]:
    """Inference lifetimes for the cost-vs-size plot: the user's and a decade either side, else 0-100x training tokens."""
    if inference_tokens:
        return [0.0, inference_tokens / 10.0, inference_tokens, inference_tokens * 10.0]
    base = 10.0 ** round(math.log10(train_tokens))
    return [0.0, base, 10.0 * base, 100.0 * base]


# ---- the planner entry point ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelRun:
    """A trained model to compare: name, parameters and training tokens."""

    name: str
    params: float
    tokens: float


def plan_scaling(
    law: ScalingLaw,
    *,
    compute: float | None = None,
    params: float | None = None,
    tokens: float | None = None,
    usd: float | None = None,
    models: Sequence[ModelRun] = (),
    rate: ComputeRate | None = None,
    inference_tokens: float | None = None,
    target_loss: float | None = None,
    with_plots: bool = True,
) -> ScalingResult:
    """Compute-optimal size for one of: a FLOP budget, a model size, a token count, a dollar budget, or trained models."""
    given = {k: v for k, v in (("compute", compute), ("params", params), ("tokens", tokens), ("usd", usd)) if v is not None}
    if models:
        if given:
            raise FlopwiseError(f"give trained models or one of --compute/--params/--tokens/--usd, not both (got --{next(iter(given))})")
    elif len(given) != 1:
        if not given:
            raise FlopwiseError("give one of --compute FLOPS, --params N, --tokens D, --usd X (with --gpu), or --model NAME")
        raise FlopwiseError(f"give only one of --compute/--params/--tokens/--usd, got {', '.join('--' + k for k in given)}")
    for k, v in given.items():
        if not (v > 0) or not math.isfinite(v):
            raise FlopwiseError(f"--{k} must be a positive number, got {v:g}")
    if inference_tokens is not None and (inference_tokens < 0 or not math.isfinite(inference_tokens)):
        raise FlopwiseError(f"--inference-tokens must be zero or positive, got {inference_tokens:g}")

    notes: list[str] = []
    if models:
        comparisons = [compare_model(law, m.name, m.params, m.tokens) for m in models]
        mode, value = "model", models[0].name
        flops = comparisons[0].flops
    else:
        comparisons = []
        mode, value = next(iter(given.items()))
        if mode == "compute":
            flops = value
        elif mode == "params":
            flops = law.compute_for_params(value)
        elif mode == "tokens":
            flops = law.compute_for_tokens(value)
        else:
            if rate is None:
                raise FlopwiseError("--usd needs --gpu to turn dollars into FLOPs")
            flops = rate.flops_for_usd(value)
    n, d = law.params_for_compute(flops), law.tokens_for_compute(flops)
    loss = law.loss(n, d)
    cost = training_cost(flops, rate) if rate else None

    ploss = parametric_law_for(law)
    if ploss is not law:
        what = "loss and inference-aware sizing use" if law.loss_fn == ploss.loss_fn else "inference-aware sizing and the cost-vs-size plot use"
        notes.append(f"{law.id} has no Chinchilla-form loss of its own; {what} {ploss.id}")
    if target_loss is None:
        target_loss = ploss.loss(n, d)
    elif target_loss <= ploss.loss_fn.e:
        raise FlopwiseError(f"--target-loss {target_loss:g} is at or below the irreducible loss E = {ploss.loss_fn.e:g} of {ploss.id}")
    inf_flops = inf_usd = None
    if inference_tokens is not None:
        inf_flops = inference_aware(ploss, target_loss, inference_tokens, rate, "flops")
        if rate is not None and rate.usd_per_gpu_hour is not None:
            inf_usd = inference_aware(ploss, target_loss, inference_tokens, rate, "usd")

    plots = None
    if with_plots:
        budgets = [flops * k for k in (1e-2, 1e-1, 1.0, 1e1, 1e2)]
        lo = min([flops / 1e3] + [m.flops / 10 for m in comparisons])
        hi = max([flops * 1e3] + [m.flops * 10 for m in comparisons])
        cost_curves, unit = cost_vs_size_curves(ploss, target_loss, default_lifetimes(inference_tokens, d), rate)
        plots = ScalingPlots(
            law=law.id, isoflop_loss="kaplan" if isinstance(law.loss_fn, KaplanLoss) else (
                law.id if law is ploss else ploss.id),
            loss_law=ploss.id,
            isoflop=isoflop_curves(law, budgets),
            loss_vs_compute=loss_vs_compute_curves(law, lo, hi, comparisons),
            cost_vs_size=cost_curves, cost_unit=unit, target_loss=target_loss,
        )
    return ScalingResult(
        law=law.id, law_name=law.name, law_source=law.source, law_calibration=law.calibration,
        given=mode, given_value=value, params=n, tokens=d, flops=flops, tokens_per_param=d / n,
        gopher_units=flops / GOPHER_BUDGET_FLOPS, loss=loss, loss_source=law.loss_source, cost=cost,
        inference_compute_optimal=inf_flops, inference_cost_optimal=inf_usd, models=comparisons,
        plots=plots, notes=notes,
    )
