"""Serving planner: physics (FLOPs, bytes, rooflines), the planner, cost, capacity, ranking, the CLI and
the inference validation."""

from __future__ import annotations

import json
import math
import statistics
import time

import numpy as np
import pytest

from flopwise.catalog.accelerators import get_accelerator
from flopwise.catalog.models import get_model
from flopwise.catalog.runs import load_runs
from flopwise.catalog.systems import default_cluster
from flopwise.errors import FlopwiseError
from flopwise.estimate import serving_efficiency as se
from flopwise.estimate.flops import dense_matmul_params, lm_head_params, prefill_flops
from flopwise.estimate.serving import (
    PhysicsStack,
    ReplicaPhysics,
    estimate_continuous,
    estimate_static_batch,
    latencies,
    poisson_ppf,
    solve_concurrency,
    static_batch_times,
)
from flopwise.plan.serving import (
    ServingRequest,
    ServingTargets,
    best_point,
    candidate_layouts,
    compare_accelerators,
    plan_serving,
)
from flopwise.validate.inference import score_inference_row, split_summary

GIB = 2**30


def cluster(acc: str):
    return default_cluster(get_accelerator(acc))


def phys(model="llama-2-7b", acc="a100-sxm4-80gb", tp=1, pp=1, weights="bf16", kv="bf16", **kw):
    return ReplicaPhysics(get_model(model), cluster(acc), tp, pp, weights, kv, **kw)


# ---- FLOPs and bytes -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["llama-2-7b", "llama-3-70b", "gpt3-175b"])
def test_a16z_rule_of_thumb_forward_pass_is_2np(name):
    """a16z: a forward pass over n tokens costs about 2·n·p FLOPs (p = parameters)."""
    m = get_model(name)
    n = 256
    f = prefill_flops(m, n)
    # the matmul part is exactly 2 FLOPs per touched parameter per token
    assert f.dense_flops == 2 * n * dense_matmul_params(m)
    # with logits for every token (a full forward pass), the total is 2·n·p to within a few percent:
    # only norms, the input embedding lookup (no FLOPs) and short-context attention differ
    full = f.dense_flops + 2 * n * lm_head_params(m) + f.attention_flops
    assert full / (2 * n * m.params_total) == pytest.approx(1.0, abs=0.04)
    # and attention is a small correction at short context
    assert f.attention_flops / full < 0.05


def test_kv_cache_bytes_known_values():
    # 2 (K,V) · layers · kv_heads · head_dim · bytes
    assert phys("llama-2-7b").kv_bytes_per_token == 2 * 32 * 32 * 128 * 2  # 512 KiB
    assert phys("llama-3-70b", tp=1).kv_bytes_per_token == 2 * 80 * 8 * 128 * 2  # 320 KiB (GQA-8)
    assert phys("llama-3-70b", kv="fp8").kv_bytes_per_token == 2 * 80 * 8 * 128
    # TP splits KV heads until there are fewer heads than ranks, then replicates them
    assert phys("llama-3-70b", acc="h100-sxm5-80gb", tp=8).kv_bytes_per_token == 2 * 80 * 1 * 128 * 2
    assert phys("falcon-7b", acc="h100-sxm5-80gb", tp=2).kv_bytes_per_token == phys("falcon-7b", acc="h100-sxm5-80gb").kv_bytes_per_token


def test_int4_weights_are_a_quarter_of_bf16():
    m = get_model("llama-3-70b")
    bf16 = phys("llama-3-70b", weights="bf16")
    int4 = phys("llama-3-70b", weights="int4")
    emb = m.embedding_params() * 2.0  # embeddings and LM head stay 16-bit in quantised checkpoints
    body_ratio = (int4.weights_bytes_total - emb) / (bf16.weights_bytes_total - emb)
    assert body_ratio == pytest.approx(0.25 + se.QUANT_SCALE_BYTES_PER_PARAM["int4"] / 2, rel=1e-9)
    assert 0.25 < int4.weights_bytes_total / bf16.weights_bytes_total < 0.30
    assert phys("llama-3-70b", weights="fp8").weights_bytes_total < 0.52 * bf16.weights_bytes_total


def test_more_gpus_never_increase_per_gpu_weights_or_kv():
    prev_w, prev_kv = math.inf, math.inf
    for tp, pp in [(1, 1), (2, 1), (4, 1), (8, 1), (8, 2), (8, 4)]:
        p = phys("llama-3-70b", acc="h100-sxm5-80gb", tp=tp, pp=pp)
        assert p.weights_bytes <= prev_w
        assert p.kv_bytes_per_token <= prev_kv
        prev_w, prev_kv = p.weights_bytes, p.kv_bytes_per_token
    # and the KV cache holds more sequences with more GPUs
    caps = [phys("llama-3-70b", acc="h100-sxm5-80gb", tp=t).max_concurrency(2304) for t in (2, 4, 8)]
    assert caps == sorted(caps) and caps[0] >= 1


def test_moe_reads_only_active_experts_but_holds_all():
    p = phys("mixtral-8x7b", acc="h100-sxm5-80gb", tp=2)
    m = p.model
    assert p.weights_bytes_total == pytest.approx((m.params_total) * 2, rel=1e-9)
    one = p.iteration(1, 100, 0, 0, 0)
    many = p.iteration(4096, 100, 0, 0, 0)
    all_bytes = p.weights_bytes  # per GPU
    # batch 1 touches 2 of 8 experts per layer: about the active parameters, far below all of them
    read_1 = float(one["weight_read_s"]) * p.mem_bw
    assert read_1 == pytest.approx(m.params_active * 2 / p.n_gpus, rel=0.02)
    assert read_1 < 0.35 * all_bytes
    # a large batch touches every expert
    assert float(many["weight_read_s"]) * p.mem_bw == pytest.approx(all_bytes, rel=0.02)


def test_expert_gemms_fill_their_tiles_with_the_rows_routed_to_them():
    """256 decode rows on Mixtral (8 experts, top 2): the attention and shared GEMMs see 256 rows, each expert's
    GEMM about 64, so the experts run at 64/(64+128) of the GEMM rate, the rest at 256/(256+128)."""
    p = phys("mixtral-8x7b", acc="h100-sxm5-80gb", tp=2)
    rows = 256.0
    it = p.iteration(rows, 1, 0, 0, 0)
    distinct = 8 * (1 - (1 - 2 / 8) ** rows)
    rows_e = rows * 2 / distinct
    rate = p.gemm_flops_per_s
    expert = rows * p.expert_flops_per_token / p.n_gpus
    rest = (rows * p.gemm_flops_per_token + rows * p.lm_head_flops_per_seq) / p.n_gpus - expert
    want = rest / (rate * rows / (rows + se.SMALL_GEMM_ROWS)) + expert / (rate * rows_e / (rows_e + se.SMALL_GEMM_ROWS))
    assert float(it["gemm_compute_s"]) == pytest.approx(want, rel=1e-9)
    assert p.expert_flops_per_token == pytest.approx(2 * 2 * 32 * 3 * 4096 * 14336, rel=1e-9)
    dense = phys("llama-3-70b", acc="h100-sxm5-80gb", tp=2)
    assert dense.expert_flops_per_token == 0


# ---- step-time physics ---------------------------------------------------------------------------


def test_decode_is_memory_bound_at_batch_1_and_compute_bound_at_large_batch():
    p = phys("llama-3-8b", acc="h100-sxm5-80gb")
    small = p.iteration(1, 256, 0, 0, 0)
    large = p.iteration(4096, 256, 0, 0, 0)
    assert float(small["bound"]) == 0 and float(large["bound"]) == 1
    # batch 1: the step is the weight read at achieved bandwidth plus fixed overheads
    w = p.weights_bytes
    t = float(small["total_s"])
    assert w / p.acc.mem_bw_bytes_per_s < t < w / p.mem_bw + 2e-3
    # the cost per token falls with batch until compute bound
    per_tok = [float(p.iteration(b, 256, 0, 0, 0)["total_s"]) / b for b in (1, 8, 64, 512)]
    assert per_tok == sorted(per_tok, reverse=True)


def test_step_components_add_up_and_prefill_is_compute_bound():
    p = phys("llama-3-70b", acc="h100-sxm5-80gb", tp=4)
    it = p.iteration(32, 1000, 2048, 2048, 1)
    total = sum(float(it[k]) for k in ("weights_gemm_s", "attention_s", "elementwise_s", "tp_comm_s", "pp_comm_s", "overhead_s"))
    assert total == pytest.approx(float(it["total_s"]), rel=1e-12)
    pre = p.iteration(0, 0, 8192, 8192, 1)
    assert float(pre["bound"]) == 1
    # tensor parallelism costs all-reduces
    assert float(it["tp_comm_s"]) > 0 and float(phys("llama-3-8b").iteration(1, 10, 0, 0, 0)["tp_comm_s"]) == 0


def test_physics_stack_matches_single_replicas():
    members = [phys("llama-3-70b", acc=a, tp=t) for a, t in (("h100-sxm5-80gb", 4), ("a100-sxm4-80gb", 8), ("h100-sxm5-80gb", 8))]
    stack = PhysicsStack(members)
    grid = np.array([[1.0, 16.0, 128.0]])
    got = latencies(stack, grid, 2048, 256, parts=False)["tpot_s"]
    for i, p in enumerate(members):
        want = latencies(p, grid[0], 2048, 256)["tpot_s"]
        np.testing.assert_allclose(got[i], want, rtol=1e-12)


def test_static_batch_is_prefill_then_decode():
    p = phys("llama-2-7b")
    est = estimate_static_batch(p, 64, 128, 128)
    pre, dec = static_batch_times(p, 64, 128, 128)
    total = float(pre["total_s"]) + se.REQUEST_OVERHEAD_S + float(np.sum(dec["total_s"]))
    assert est.e2e_s == pytest.approx(total)
    assert est.output_tokens_per_s_per_gpu == pytest.approx(64 * 128 / total)
    assert len(dec["total_s"]) == 127  # the first output token comes out of the prefill


def test_continuous_batching_tradeoff_and_littles_law():
    p = phys("llama-3-8b", acc="h100-sxm5-80gb")
    c = np.array([1.0, 8.0, 64.0, 256.0])
    lat = latencies(p, c, 1024, 256)
    assert np.all(np.diff(lat["tpot_s"]) > 0)  # more users → slower per user
    assert np.all(np.diff(lat["output_tokens_per_s"]) > 0)  # … and more tokens per second in total
    rate = 5.0
    conc = solve_concurrency(p, rate, 1024, 256, p.max_concurrency(1280))
    e2e = float(latencies(p, conc, 1024, 256, rate)["e2e_s"])
    assert conc == pytest.approx(rate * e2e, rel=1e-2)  # Little's law
    assert solve_concurrency(p, 1e6, 1024, 256, p.max_concurrency(1280)) is None  # cannot keep up


def test_poisson_quantile():
    assert poisson_ppf(0.99, np.array([0.0]))[0] == 0
    assert poisson_ppf(0.99, np.array([1.0]))[0] == 4  # P[X<=3]=0.981, P[X<=4]=0.996
    assert poisson_ppf(0.99, np.array([100.0]))[0] == pytest.approx(124, abs=2)


def test_cost_per_token_is_price_over_throughput():
    p = phys("llama-3-8b", acc="h100-sxm5-80gb")
    est = estimate_continuous(p, 32, 1000, 200, replicas=2, price=4.0, spot_price=1.0)
    usd_s = 4.0 * est.gpus / 3600
    assert est.usd_per_m_tokens == pytest.approx(usd_s / est.total_tokens_per_s * 1e6)
    # the input and output shares add back to the whole bill
    bill = est.usd_per_m_input_tokens * est.total_tokens_per_s * 0 + (
        est.usd_per_m_input_tokens * (est.total_tokens_per_s - est.output_tokens_per_s)
        + est.usd_per_m_output_tokens * est.output_tokens_per_s) / 1e6
    assert bill == pytest.approx(usd_s)
    assert est.spot_usd_per_m_tokens == pytest.approx(est.usd_per_m_tokens / 4)


# ---- planner ------------------------------------------------------------------------------------


def request(model="llama-3-70b", acc="h100-sxm5-80gb", **kw):
    kw.setdefault("input_tokens", 2048)
    kw.setdefault("output_tokens", 256)
    return ServingRequest(model=get_model(model), cluster=cluster(acc), usd_per_gpu_hour=3.0, **kw)


def test_plan_meets_targets_and_sizes_replicas_for_rate():
    targets = ServingTargets(tpot_s=0.05, ttft_p99_s=1.0)
    plan = plan_serving(request(rate_per_s=20.0, targets=targets))
    e = plan.estimate
    assert e.meets_targets and e.tpot_s <= 0.05 and e.ttft_p99_s <= 1.0
    assert e.request_rate_per_s == pytest.approx(20.0)
    assert e.output_tokens_per_s == pytest.approx(20.0 * 256)
    layout = next(p for p in plan.layouts if p.tp == e.tp and p.pp == e.pp)
    assert e.replicas == math.ceil(20.0 / layout.requests_per_s)


def test_capacity_plan_peak_and_growth():
    plan = plan_serving(request(rate_per_s=5.0, targets=ServingTargets(tpot_s=0.05)), peak_factor=10.0,
                        weekly_growth=0.5, weeks=4)
    c = plan.capacity
    assert c.replicas_peak == math.ceil(50.0 / c.rate_per_replica_max)
    assert c.replicas_average == math.ceil(5.0 / c.rate_per_replica_max)
    assert c.usd_per_day_peak_provisioned / c.usd_per_day_average_provisioned == pytest.approx(
        c.replicas_peak / c.replicas_average)
    assert c.utilisation_peak_provisioned < 0.2
    gpus = [w.gpus for w in c.weeks]
    assert len(gpus) == 5 and gpus == sorted(gpus) and gpus[-1] > gpus[0]
    assert c.weeks[4].average_rate_per_s == pytest.approx(5.0 * 1.5**4)


def test_fixed_gpus_split_into_replicas():
    plan = plan_serving(request("llama-3-8b", gpus=8, targets=ServingTargets(tpot_s=0.03)))
    e = plan.estimate
    assert e.gpus == 8 and e.replicas * e.tp * e.pp == 8


def test_planner_rejections_are_one_line():
    with pytest.raises(FlopwiseError, match="exceeds .* maximum of 8192"):
        plan_serving(request(input_tokens=8000, output_tokens=500))
    with pytest.raises(FlopwiseError, match="even with int4") as exc:
        plan_serving(request("llama-3.1-405b", acc="a10", gpus=2))
    assert "\n" not in str(exc.value)
    with pytest.raises(FlopwiseError, match="fits with --weights"):
        plan_serving(request(acc="a10", gpus=4))
    with pytest.raises(FlopwiseError, match="meets TPOT"):
        plan_serving(request(targets=ServingTargets(tpot_s=0.001)))
    with pytest.raises(FlopwiseError, match="needs about"):
        plan_serving(request(gpus=8, rate_per_s=200.0, targets=ServingTargets(tpot_s=0.05)))


def test_layouts_respect_node_and_heads():
    m = get_model("falcon-180b")  # 232 heads = 8 · 29
    lay = candidate_layouts(m, cluster("h100-sxm5-80gb"), None)
    assert all(m.n_heads % tp == 0 and tp <= 8 for tp, _ in lay)
    assert all(tp == 8 for tp, pp in lay if pp > 1)
    assert candidate_layouts(m, cluster("h100-sxm5-80gb"), 12) == [(1, 1), (2, 1), (4, 1)]


def test_best_point_is_largest_batch_meeting_target():
    p = phys("llama-3-8b", acc="h100-sxm5-80gb")
    pt = best_point(p, 2048, 256, ServingTargets(tpot_s=0.03))
    assert pt.meets_targets and pt.tpot_s <= 0.03
    more = latencies(p, pt.concurrency * 1.3 + 2, 2048, 256)
    assert float(more["tpot_s"]) > 0.03 or pt.concurrency == pt.max_concurrency


# ---- which accelerator ----------------------------------------------------------------------------


def test_compare_ranks_by_cost_and_is_fast():
    m = get_model("llama-3-70b")
    compare_accelerators(m, 2048, 256, ServingTargets(tpot_s=0.05))  # load catalogs once
    t0 = time.perf_counter()
    res = compare_accelerators(m, 2048, 256, ServingTargets(tpot_s=0.05))
    assert time.perf_counter() - t0 < 1.0
    costs = [r.usd_per_m_tokens for r in res.ranked]
    assert costs == sorted(costs) and len(costs) >= 5
    assert all(r.tpot_s <= 0.05 for r in res.ranked + res.unpriced)
    ids = {r.accelerator for r in res.ranked}
    assert {"h100-sxm5-80gb", "a100-sxm4-80gb"} <= ids
    assert "cerebras-cs2" not in ids and "cerebras-cs2" not in res.rejected  # usable: false
    assert "t4" in res.rejected  # 16 GiB cards cannot hold 70B at 50 ms per token


def test_compare_ranks_by_cost_not_speed_a10_vs_a100():
    """The 'A10 instead of A100 for batch work' question: with no latency target the ranking is by
    $ per token, so a slower card wins when it is cheap enough — and loses when it is not."""
    m = get_model("llama-3-8b")
    res = compare_accelerators(m, 512, 128, ServingTargets())
    speeds = [r.output_tokens_per_s_per_gpu for r in res.ranked]
    assert speeds != sorted(speeds, reverse=True)  # some cheaper-per-token card is slower per GPU
    a10 = get_accelerator("a10")
    a100 = get_accelerator("a100-sxm4-80gb")
    kw = dict(accelerators=[a10, a100], max_gpus=1)
    cheap_a10 = compare_accelerators(m, 512, 128, ServingTargets(), "int8", "bf16",
                                     prices={"a10": (0.30, None, "test"), "a100-sxm4-80gb": (4.00, None, "test")}, **kw)
    assert cheap_a10.ranked[0].accelerator == "a10"
    assert cheap_a10.ranked[0].output_tokens_per_s_per_gpu < cheap_a10.ranked[-1].output_tokens_per_s_per_gpu
    dear_a10 = compare_accelerators(m, 512, 128, ServingTargets(), "int8", "bf16",
                                    prices={"a10": (1.30, None, "test"), "a100-sxm4-80gb": (1.40, None, "test")}, **kw)
    assert dear_a10.ranked[0].accelerator == "a100-sxm4-80gb"


# ---- engine traits and validation --------------------------------------------------------------


def test_engine_traits():
    assert se.engine_traits("TensorRT-LLM v0.6.1 (gptSessionBenchmark)") is se.LEGACY_TRTLLM
    assert se.engine_traits("TensorRT-LLM v0.9.0") is se.MODERN_TRTLLM
    assert se.engine_traits("TensorRT-LLM 0.17 trtllm-bench") is se.MODERN_TRTLLM
    only8 = se.EngineTraits(gqa_shared_groups=(8,))
    assert only8.shares_kv(8) and not only8.shares_kv(4) and only8.shares_kv(1)
    assert se.engine_traits("vLLM 0.6.3") is se.MODERN_ENGINE
    assert se.engine_traits(None) is se.MODERN_ENGINE
    legacy = phys("llama-3-70b", engine=se.LEGACY_TRTLLM)
    modern = phys("llama-3-70b")
    assert legacy.kv_read_bytes_per_token == 8 * modern.kv_read_bytes_per_token


def test_public_inference_validation_meets_target():
    _, rows = load_runs(None, "inference")
    scores = [score_inference_row(r) for r in rows]
    assert all(s.error is not None for s in scores), [s.note for s in scores if s.error is None]
    rep = split_summary(scores)
    assert rep["throughput"].scored >= 50
    assert rep["throughput"].median_abs_error <= 0.15
    assert rep["latency"].median_abs_error <= 0.25
    # no systematic bias on throughput
    assert abs(statistics.median(s.error for s in rep["throughput"].rows)) < 0.08


CUSTOM = """id,source,model,params_b,active_params_b,layers,hidden,ffn_hidden,heads,kv_heads,vocab,experts,experts_per_token,engine,accelerator,num_accelerators,tp,pp,weight_precision,kv_precision,input_len,output_len,batch_size,concurrency,request_rate,scenario,measured_output_tokens_per_s,measured_total_tokens_per_s,per,measured_ttft_ms,measured_tpot_ms,measured_e2e_ms,latency_statistic,notes
x-offline,test,Llama 3 8B,8,,32,4096,14336,32,8,128256,,,vLLM 0.6,h100-sxm5-80gb,1,1,,bf16,,1000,200,,,,offline,5000,,gpu,,,,,synthetic
x-server,test,Llama 3 8B,8,,32,4096,14336,32,8,128256,,,vLLM 0.6,h100-sxm5-80gb,1,1,,bf16,bf16,1000,200,,,2,server,,,system,,20,,mean,synthetic
x-moe,test,Mixtral 8x7B,47,13,32,4096,14336,32,8,32000,8,2,TensorRT-LLM v0.9.0,h100-sxm5-80gb,2,2,,fp8,,128,128,64,,,static-batch,3000,,system,,,,,synthetic
x-nolen,test,Llama 3 8B,8,,32,4096,14336,32,8,128256,,,vLLM,h100-sxm5-80gb,1,1,,bf16,,,,,,,offline,5000,,gpu,,,,,dataset ShareGPT
"""


def test_validate_accepts_any_inference_file(tmp_path, cli):
    path = tmp_path / "runs.csv"
    path.write_text(CUSTOM)
    proc = cli("validate", "--runs", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    rows = {r["id"]: r for r in rep["rows"]}
    assert rows["x-offline"]["metric"].startswith("output_tok_s")
    assert rows["x-server"]["metric"] == "tpot_ms" and rows["x-server"]["predicted"] > 0
    assert rows["x-moe"]["metric"] == "output_tok_s (system)"
    assert rows["x-nolen"]["error"] is None and "input length" in rows["x-nolen"]["note"]


# ---- CLI -----------------------------------------------------------------------------------------


def test_cli_serve_json(cli):
    proc = cli("serve", "llama-3-8b", "--gpu", "h100", "--input", "2k", "--output", "256", "--tpot", "40ms",
               "--rate", "600/min", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    e = out["estimate"]
    assert e["tpot_s"] <= 0.04 and e["request_rate_per_s"] == pytest.approx(10.0)
    for key in ("ttft_s", "ttft_p99_s", "e2e_s", "output_tokens_per_s_per_gpu", "total_tokens_per_s",
                "usd_per_m_input_tokens", "usd_per_m_output_tokens", "spot_usd_per_m_tokens", "memory", "prefill", "decode"):
        assert key in e
    assert e["memory"]["weights_bytes"] == pytest.approx(get_model("llama-3-8b").params_total * 2 / e["tp"], rel=1e-6)


def test_cli_serve_table_and_compare(cli):
    proc = cli("serve", "llama-3-70b", "--gpu", "h100", "--gpus", "8", "--weights", "fp8", "--kv", "fp8",
               "--rate", "5/s", "--peak-factor", "10x", "--weekly-growth", "50%", "--weeks", "3")
    assert proc.returncode == 0, proc.stderr
    assert "TTFT" in proc.stdout and "capacity" in proc.stdout
    proc = cli("serve", "llama-3-70b", "--compare", "--input", "2048", "--output", "256", "--tpot", "50ms", "--json")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["ranked"] and res["ranked"][0]["usd_per_m_tokens"] <= res["ranked"][-1]["usd_per_m_tokens"]


@pytest.mark.parametrize("args, needle", [
    (["serve", "llama-3-70bb", "--gpu", "h100"], "did you mean 'llama-3-70b'"),
    (["serve", "llama-3-70b", "--gpu", "h10x"], "unknown accelerator"),
    (["serve", "llama-3-70b", "--gpu", "a100", "--input", "8000", "--output", "256"], "exceeds"),
    (["serve", "llama-3.1-405b", "--gpu", "a10", "--gpus", "2"], "even with int4"),
    (["serve", "llama-3-70b"], "--gpu"),
    (["serve", "llama-3-70b", "--gpu", "h100", "--tpot", "50"], "unit"),
    (["serve", "llama-3-70b", "--gpu", "h100", "--weights", "int3"], "precision"),
    (["serve", "llama-3-70b", "--gpu", "h100", "--rate", "-3/s"], "positive"),
    (["serve", "llama-3-70b", "--gpu", "h100", "--peak-factor", "10"], "--rate"),
])
def test_cli_bad_input_one_line_exit_2(cli, args, needle):
    proc = cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
