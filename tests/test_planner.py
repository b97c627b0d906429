"""Training planner: validity rules, memory and time properties, search, published-plan checks."""

from __future__ import annotations

import json

import pytest

from flopwise.catalog.models import get_model
from flopwise.catalog.systems import make_cluster
from flopwise.errors import InfeasiblePlan
from flopwise.estimate.training import REASONS, PlanArrays, TrainingJob, evaluate_arrays
from flopwise.plan.parallel import ParallelPlan
from flopwise.plan.search import SearchSpace, search
from flopwise.plan.training import plan_training

A100 = make_cluster(gpu="a100-sxm4-80gb")
H100 = make_cluster(gpu="h100-sxm5-80gb")


def evaluate(job, plans, n):
    return evaluate_arrays(job, PlanArrays.from_plans(plans), n)


def reason(job, plan, n):
    return REASONS[int(evaluate(job, [plan], n).reason[0])]


def test_validity_rules():
    job = TrainingJob(get_model("llama-2-70b"), H100, 512, 4096)
    ok = ParallelPlan(tp=8, pp=4, dp=2, micro_batch=1)
    assert reason(job, ok, 64) == "ok"
    assert "GPU count" in reason(job, ParallelPlan(tp=8, pp=4, dp=3), 64)
    assert "heads" in reason(job, ParallelPlan(tp=3, pp=1, dp=21), 63)  # 64 heads, 8 KV heads
    assert "global batch" in reason(job, ParallelPlan(tp=8, pp=1, dp=8, micro_batch=3), 64)
    assert "interleaved" in reason(job, ParallelPlan(tp=8, pp=1, dp=8, vpp=2), 64)
    assert "pipeline" in reason(job, ParallelPlan(tp=8, pp=8, dp=1, sharding="zero3"), 64)
    assert "memory" in reason(job, ParallelPlan(tp=1, pp=1, dp=64, sharding="none", recompute="none", micro_batch=8), 64)


def test_more_gpus_never_need_more_memory_per_gpu_under_same_sharding():
    job = TrainingJob(get_model("llama-3-70b"), H100, 1024, 8192)
    prev = None
    for dp in (8, 16, 32, 64, 128):
        plan = ParallelPlan(tp=8, pp=1, dp=dp, sharding="fsdp", recompute="full")
        mem = float(evaluate(job, [plan], 8 * dp).memory_bytes[0])
        if prev is not None:
            assert mem <= prev + 1
        prev = mem


def test_more_micro_batches_shrink_the_bubble():
    job = TrainingJob(get_model("gpt3-175b"), A100, 1536, 2048)
    bubbles = []
    for batch in (256, 512, 1536):
        j = TrainingJob(job.model, A100, batch, 2048)
        res = evaluate(j, [ParallelPlan(tp=8, pp=12, dp=8, micro_batch=1, recompute="full")], 768)
        bubbles.append(float(res.bubble_s[0] / res.step_s[0]))
    assert bubbles[0] > bubbles[1] > bubbles[2] > 0
    # 1F1B: bubble / ideal = (p - 1) / m  →  share of the step ≈ (p-1)/(m+p-1)
    m = 1536 // 8
    assert bubbles[2] == pytest.approx(11 / (m + 11), rel=0.15)


def test_interleaving_shrinks_the_bubble():
    job = TrainingJob(get_model("gpt3-175b"), A100, 512, 2048)
    res = evaluate(job, [ParallelPlan(tp=8, pp=12, dp=8, vpp=v, micro_batch=1) for v in (1, 2, 4)], 768)
    assert res.bubble_s[0] > res.bubble_s[1] > res.bubble_s[2]


def test_full_recompute_lowers_activations_and_raises_hfu():
    job = TrainingJob(get_model("llama-2-13b"), A100, 256, 4096)
    plans = [ParallelPlan(tp=4, pp=1, dp=16, micro_batch=1, recompute=r) for r in ("none", "selective", "full")]
    res = evaluate(job, plans, 64)
    assert res.activations_bytes[2] < res.activations_bytes[1] <= res.activations_bytes[0]
    assert res.step_s[2] > res.step_s[0]
    ests = [plan_training(job, 64, 1e12, fixed=p.model_dump()) for p in plans]
    assert ests[2].hfu > ests[2].mfu
    assert ests[0].hfu == pytest.approx(ests[0].mfu)
    assert ests[2].mfu < ests[0].mfu


def test_step_time_components_add_up():
    job = TrainingJob(get_model("mixtral-8x7b"), H100, 512, 4096)
    est = plan_training(job, 64, 1e12)
    st = est.step_time
    parts = sum(v for k, v in st.model_dump().items() if k != "step_s")
    assert parts == pytest.approx(st.step_s, rel=1e-9)
    mem = est.memory
    assert mem.total_bytes == pytest.approx(sum(getattr(mem, f"{k}_bytes") for k in
                                                 ("weights", "gradients", "optimizer", "activations", "buffers", "framework")))
    assert mem.fits


def test_zero_stages_shard_what_they_shard():
    job = TrainingJob(get_model("llama-2-7b"), A100, 256, 4096)
    plans = [ParallelPlan(tp=1, pp=1, dp=32, sharding=s, recompute="full") for s in ("none", "zero1", "zero2", "fsdp")]
    res = evaluate(job, plans, 32)
    p = get_model("llama-2-7b").params_total
    assert res.optimizer_bytes[0] == pytest.approx(12 * p)
    assert res.optimizer_bytes[1] == pytest.approx(12 * p / 32)
    assert res.gradients_bytes[1] == pytest.approx(2 * p) and res.gradients_bytes[2] == pytest.approx(2 * p / 32)
    assert res.weights_bytes[2] == pytest.approx(2 * p) and res.weights_bytes[3] == pytest.approx(2 * p / 32)


def test_impossible_request_says_why():
    job = TrainingJob(get_model("llama-3.1-405b"), make_cluster(gpu="rtx-4090"), 64, 4096)
    with pytest.raises(InfeasiblePlan, match=r"GiB per GPU of 24.*weights\+grads\+optimizer"):
        plan_training(job, 8, 1e12)


def test_megatron_1t_search_is_fast_and_finds_the_published_layout():
    m = get_model("megatron-1t")
    job = TrainingJob(m, A100, 3072, 2048, "fp16")
    res = search(job, 3072)
    assert res.plans_evaluated > 1000 and res.plans_valid > 0
    # with the 2021 software (no flash attention, no sequence parallel, full recompute, no sharding)
    space = SearchSpace(sharding=("none",), recompute=("full",), sequence_parallel=(False,), flash_attention=False)
    best = search(job, 3072, space)
    pub = search(job, 3072, SearchSpace(tp=(8,), pp=(64,), sharding=("none",), recompute=("full",),
                                       sequence_parallel=(False,), flash_attention=False))
    tput = lambda r: 3072 * 2048 / float(r.results.step_s[r.ranked[0]])
    assert tput(best) <= tput(pub) * 1.10
    assert tput(best) >= tput(pub)
    assert best.plan(0).tp == 8
    # and the published plan's predicted throughput is within 10% of the measured 163 TFLOP/s per GPU
    from flopwise.validate.training import convention_flops_per_token
    measured_tokens_s = 163e12 * 3072 / convention_flops_per_token(m, 2048, "full", "hardware")
    assert tput(pub) == pytest.approx(measured_tokens_s, rel=0.10)


def test_cli_train_planner_json(cli):
    out = cli("train", "llama-3-70b", "--tokens", "1e12", "--gpu", "h100-sxm5-80gb", "--gpus", "64",
              "--global-batch", "256", "--seq-len", "8192", "--json", check=True)
    d = json.loads(out.stdout)
    assert d["mode"] == "planner" and d["plans_evaluated"] > 100
    p = d["plan"]
    assert p["tp"] * p["pp"] * p["dp"] * p["cp"] == 64
    assert 0.2 < d["mfu"] < 0.7
    assert d["memory"]["total_bytes"] <= d["memory"]["capacity_bytes"]
    assert d["days"] == pytest.approx(1e12 / d["tokens_per_s"] / 86400, rel=1e-6)


def test_cli_train_given_plan(cli):
    out = cli("train", "gpt3-175b", "--tokens", "300e9", "--gpu", "a100-sxm4-80gb", "--gpus", "1024",
              "--global-batch", "1536", "--plan", "tp=8,pp=16,mb=1,recompute=full,sharding=none", "--json", check=True)
    d = json.loads(out.stdout)
    assert (d["plan"]["tp"], d["plan"]["pp"], d["plan"]["dp"]) == (8, 16, 8)
    assert d["plan"]["recompute"] == "full"


def test_cli_impossible_plan_exit_2(cli):
    out = cli("train", "llama-3.1-405b", "--tokens", "1e12", "--gpu", "rtx-4090", "--gpus", "8")
    assert out.returncode == 2
    assert "GiB per GPU" in out.stderr and "Traceback" not in out.stderr


def test_objective_cost_is_never_dearer_and_respects_deadline():
    from flopwise.plan.training import plan_training_cheapest

    job = TrainingJob(get_model("llama-2-7b"), A100, 1024, 4096)
    fastest = plan_training(job, 512, 2e12, price=2.0)
    cheap = plan_training_cheapest(job, 512, 2e12, price=2.0, max_days=30)
    assert cheap.gpu_hours <= fastest.gpu_hours * (1 + 1e-9)
    assert cheap.days <= 30 and cheap.gpus <= 512
    with pytest.raises(InfeasiblePlan, match="max-days"):
        plan_training_cheapest(job, 16, 2e12, max_days=1)


def test_cli_train_prices_in_failures(cli):
    base = ("train", "llama-3-70b", "--tokens", "2e12", "--gpu", "h100-sxm5-80gb", "--gpus", "1024",
            "--global-batch", "1024", "--seq-len", "8192", "--price-per-gpu-hour", "3", "--json")
    plain = json.loads(cli(*base, "--no-failures", check=True).stdout)
    assert plain["reliability"] is None
    d = json.loads(cli(*base, "--simulate", "500", "--max-job-hours", "48", check=True).stdout)
    rel = d["reliability"]
    assert 0.8 < rel["goodput"] < 1.0
    assert d["expected_days"] > d["days"]
    assert d["expected_cost_usd"] == pytest.approx(rel["expected_gpu_hours"] * 3)
    assert rel["resubmissions"] >= int(d["expected_days"] * 24 / 48) - 1
    sim = d["simulation"]
    assert sim["p90_s"] >= sim["p50_s"]
    assert sim["mean_s"] == pytest.approx(sim["analytic_mean_s"], rel=0.05)


def test_cross_entropy_traffic_dominates_small_wide_vocab_models():
    """Pythia-70M-like shape: d 512, vocab 50k — the unfused loss moves LOSS_BYTES_PER_LOGIT per logit."""
    from flopwise.estimate import efficiency as E
    from flopwise.spec.model import ModelSpec

    def tiny(vocab):
        return ModelSpec(name="tiny", n_layers=6, d_model=512, n_heads=8, ffn_hidden=2048, mlp="gelu",
                         vocab_size=vocab, tied_embeddings=False, norm="layernorm")

    a100_40 = make_cluster(gpu="a100-sxm4-40gb")
    plan = ParallelPlan(tp=1, pp=1, dp=1, micro_batch=8, sharding="none", recompute="none")
    steps = [float(evaluate(TrainingJob(tiny(v), a100_40, 8, 2048), [plan], 1).step_s[0]) for v in (25_152, 50_304)]
    acc = a100_40.accelerator
    extra_logits = 8 * 2048 * 25_152
    loss_s = extra_logits * E.LOSS_BYTES_PER_LOGIT / (acc.mem_bw_bytes_per_s * E.efficiency_for(acc.generation).memory_bw)
    head_s = 6 * 8 * 2048 * 512 * 25_152 / acc.peak("bf16")  # LM-head GEMMs at full peak: a lower bound
    assert steps[1] - steps[0] >= loss_s + head_s
    assert steps[1] - steps[0] <= loss_s + 2 * head_s


def test_deepspeed_zero1_waits_for_the_weight_all_gather_megatron_overlaps_it():
    job = TrainingJob(get_model("llama-2-13b"), A100, 512, 4096)
    plans = [ParallelPlan(tp=2, pp=1, dp=256, micro_batch=1, sharding=s, recompute="selective")
             for s in ("none", "distributed-optimizer", "zero1")]
    res = evaluate(job, plans, 512)
    assert res.memory_bytes[1] == pytest.approx(res.memory_bytes[2])  # same sharding, same memory
    assert res.optimizer_bytes[1] < res.optimizer_bytes[0]
    # the all-gather of 13B/2 16-bit weights through the NICs is not hidden by DeepSpeed
    assert res.dp_comm_s[2] > res.dp_comm_s[1] + 0.05
    assert res.step_s[2] > res.step_s[1]


def test_block_recompute_sits_between_none_and_full_and_is_chosen_when_memory_is_tight():
    """Megatron's block method: the first k layers of each chunk are rebuilt, the rest keep activations."""
    job = TrainingJob(get_model("llama-3.1-405b"), H100, 2048, 8192)
    kw = dict(tp=8, pp=16, dp=128, vpp=2, micro_batch=1, sharding="distributed-optimizer")
    plans = [ParallelPlan(recompute="none", **kw), ParallelPlan(recompute="block", recompute_layers=2, **kw),
             ParallelPlan(recompute="block", recompute_layers=3, **kw), ParallelPlan(recompute="full", **kw)]
    res = evaluate(job, plans, 16384)
    act, step = res.activations_bytes, res.step_s
    assert act[0] > act[1] > act[2] > act[3]
    assert step[0] < step[1] < step[2] < step[3]
    chunk = -(-126 // (16 * 2))  # 4 layers per model chunk
    assert res.recompute_fraction[1] == pytest.approx(2 / chunk) and res.recompute_fraction[3] == 1.0
    # recompute time is proportional to the rebuilt layers
    assert res.recompute_s[1] == pytest.approx(res.recompute_s[3] * 2 / chunk, rel=1e-6)
    assert not res.valid[0] and res.valid[3]  # 405B at 8k without recompute does not fit in 80 GB

    # left to choose k, the planner rebuilds as few layers as fit, and beats full recompute
    auto = evaluate(job, [ParallelPlan(recompute="block", **kw)], 16384)
    k = int(auto.recompute_layers[0])
    assert 0 < k < chunk and auto.valid[0]
    fewer = evaluate(job, [ParallelPlan(recompute="block", recompute_layers=k - 1, **kw)], 16384) if k > 1 else None
    assert fewer is None or not fewer.valid[0]
    assert auto.step_s[0] < step[3]
    est = plan_training(job, 16384, 1e12, fixed=dict(tp=8, pp=16, cp=1, micro_batch=1, sharding="distributed-optimizer"))
    assert est.plan.recompute == "block" and est.plan.recompute_layers is not None
    assert est.mfu < est.hfu < est.mfu * 4 / 3  # only part of the forward runs twice


def test_plan_spec_block_recompute():
    from flopwise.errors import FlopwiseError
    from flopwise.plan.parallel import parse_plan_spec

    assert parse_plan_spec("tp=8,recompute_layers=2") == {"tp": 8, "recompute_layers": 2, "recompute": "block"}
    with pytest.raises(FlopwiseError, match="needs recompute=block"):
        parse_plan_spec("recompute=full,recompute_layers=2")
    assert ParallelPlan(recompute="block", recompute_layers=2).label().endswith("recompute=block:2")


def test_a_power_capped_h100_sustains_less_compute_by_the_dvfs_law():
    """Grand Teton H100 96GB runs at 500 W; its listed rates are the 700 W datasheet's."""
    from flopwise.catalog.accelerators import get_accelerator
    from flopwise.estimate.efficiency import IDLE_POWER_FRACTION, power_cap_factor

    capped, full = get_accelerator("h100-sxm5-96gb"), get_accelerator("h100-sxm5-80gb")
    idle = IDLE_POWER_FRACTION * 700
    assert power_cap_factor(capped) == pytest.approx(((500 - idle) / (700 - idle)) ** (1 / 3))
    assert 0.85 < power_cap_factor(capped) < 0.9 and power_cap_factor(full) == 1.0
    assert capped.peak("bf16") == full.peak("bf16")  # MFU is still counted against the datasheet peak
    plan = ParallelPlan(tp=8, pp=1, dp=1, micro_batch=1, sharding="none", recompute="full")
    steps = {}
    for acc in ("h100-sxm5-96gb", "h100-sxm5-80gb"):
        job = TrainingJob(get_model("llama-3-70b"), make_cluster(gpu=acc), 8, 8192)
        res = evaluate(job, [plan], 8)
        steps[acc] = float(res.compute_s[0])
    assert steps["h100-sxm5-96gb"] == pytest.approx(steps["h100-sxm5-80gb"] / power_cap_factor(capped), rel=0.02)


def test_tp_comm_overlap_hides_tensor_parallel_traffic_behind_the_gemms():
    from flopwise.estimate import efficiency as E
    from flopwise.plan.parallel import parse_plan_spec

    job = TrainingJob(get_model("llama-3-70b"), H100, 512, 8192)
    kw = dict(tp=8, pp=1, dp=8, micro_batch=1, sharding="fsdp", recompute="full")
    plain, over = (ParallelPlan(tp_overlap=o, **kw) for o in (False, True))
    res = evaluate(job, [plain, over], 64)
    assert res.tp_comm_s[1] < res.tp_comm_s[0]
    # at most (1 - overlap efficiency) of it stays exposed when the GEMMs are longer than the collectives
    assert res.tp_comm_s[1] >= (1 - E.OVERLAP_EFFICIENCY) * res.tp_comm_s[0] - 1e-9
    assert res.step_s[1] < res.step_s[0] and res.compute_s[1] == res.compute_s[0]
    assert over.label().endswith("sp tp-overlap")
    assert parse_plan_spec("tp=8,async_tp=true") == {"tp": 8, "tp_overlap": True}
    # the planner does not assume it (Megatron-LM and torchtitan default it off) unless asked
    assert not plan_training(job, 64, 1e12).plan.tp_overlap
    assert plan_training(job, 64, 1e12, fixed={"tp": 8, "tp_overlap": True}).plan.tp_overlap


def test_nvlink_bridges_join_pairs_only_so_pcie_cards_collect_over_pcie():
    from flopwise.catalog.accelerators import get_accelerator

    pcie, sxm = get_accelerator("a100-pcie-80gb"), get_accelerator("a100-sxm4-80gb")
    assert pcie.intra_node_bw_bytes_per_s == pytest.approx(32e9)  # PCIe Gen4 x16, one direction
    assert sxm.intra_node_bw_bytes_per_s == pytest.approx(300e9)  # NVSwitch: NVLink 3 to every peer
    plan = ParallelPlan(tp=8, pp=1, dp=1, micro_batch=1, sharding="none", recompute="full")
    t = {}
    for acc in ("a100-pcie-80gb", "a100-sxm4-80gb"):
        job = TrainingJob(get_model("llama-2-13b"), make_cluster(gpu=acc), 8, 4096)
        t[acc] = float(evaluate(job, [plan], 8).tp_comm_s[0])
    assert t["a100-pcie-80gb"] > 5 * t["a100-sxm4-80gb"]


def test_context_parallel_ranks_join_the_gradient_reduction_and_the_sharding():
    """CP ranks hold the same weights: grads are reduced, and ZeRO/FSDP state sharded, over dp·cp."""
    job = TrainingJob(get_model("llama-3-8b"), H100, 8, 32768)
    fsdp = [ParallelPlan(tp=1, pp=1, dp=8 // c, cp=c, micro_batch=1, sharding="fsdp", recompute="full") for c in (1, 2, 8)]
    res = evaluate(job, fsdp, 8)
    states = res.weights_bytes + res.gradients_bytes + res.optimizer_bytes
    assert states[0] == pytest.approx(states[1]) == pytest.approx(states[2])
    p = get_model("llama-3-8b").params_total
    assert res.optimizer_bytes[2] == pytest.approx(12 * p / 8)  # dp=1, cp=8: still sharded eight ways
    ddp = evaluate(job, [ParallelPlan(tp=1, pp=1, dp=1, cp=8, micro_batch=1, sharding="none", recompute="full")], 8)
    assert ddp.dp_comm_s[0] > 0  # the eight CP ranks all-reduce their gradients


def test_the_loss_peak_over_a_large_vocabulary_is_counted():
    from flopwise.estimate.memory import LOSS_PEAK_BYTES_PER_LOGIT, logits_bytes

    m = get_model("llama-3-8b")
    assert logits_bytes(m, 32768, 1) == pytest.approx(LOSS_PEAK_BYTES_PER_LOGIT * 32768 * 128256)
    assert logits_bytes(m, 32768, 1, tp=8, cp=2) == pytest.approx(logits_bytes(m, 32768, 1) / 16)
    # torchtitan: Llama 3.1 8B at 32k tokens on 8 H100 96GB (FSDP, full AC) peaked at 83.9 GiB
    job = TrainingJob(m, make_cluster(gpu="h100-sxm5-96gb"), 8, 32768)
    res = evaluate(job, [ParallelPlan(tp=1, pp=1, dp=8, micro_batch=1, sharding="fsdp", recompute="full")], 8)
    assert 0.8 * 83.9 < float(res.memory_bytes[0]) / 2**30 < 83.9 * 1.05


def test_expert_all_to_all_sends_one_copy_per_destination_node():
    """Hierarchical dispatch: with EP over two nodes a token crosses the network at most once whatever
    its expert count, so top-8 costs about what top-4 does; inside one node every copy goes over NVLink;
    fp8 runs dispatch (not combine, not backward) in 1 byte."""
    base = get_model("mixtral-8x7b").model_copy(update={"n_experts": 64})

    def ep_comm(k, n_gpus, precision="bf16"):
        job = TrainingJob(base.model_copy(update={"experts_per_token": k}), H100, 256, 4096, precision)
        plan = ParallelPlan(tp=1, pp=1, dp=n_gpus, ep=n_gpus, micro_batch=1, sharding="zero1", recompute="full")
        res = evaluate(job, [plan], n_gpus)
        assert REASONS[int(res.reason[0])] in ("ok", REASONS[9])  # valid layout (memory aside)
        return float(res.ep_comm_s[0])

    two_nodes_4, two_nodes_8 = ep_comm(4, 16), ep_comm(8, 16)
    assert two_nodes_8 < 1.15 * two_nodes_4
    one_node_2, one_node_4 = ep_comm(2, 8), ep_comm(4, 8)
    assert one_node_4 == pytest.approx(2 * one_node_2, rel=0.01)
    assert ep_comm(4, 8, "fp8") == pytest.approx(one_node_4 * (1 + 4 / 128 + 2 + 4) / 8, rel=0.01)


def test_group_limited_routing_sends_a_token_to_fewer_nodes():
    """DeepSeek-V3 routes a token's 8 experts within at most 4 of 8 groups (one per node at EP 64): its
    network all-to-all is the unrestricted one scaled by the distinct remote nodes, 3.15 against 4.59."""
    v3 = get_model("deepseek-v3")
    assert (v3.expert_groups, v3.expert_groups_per_token) == (8, 4)
    from pathlib import Path

    from flopwise.catalog.models import load_model_file

    parsed = load_model_file(Path(__file__).parent / "fixtures" / "hf" / "DeepSeek-V3" / "config.json")
    assert (parsed.expert_groups, parsed.expert_groups_per_token) == (8, 4)

    def ep_comm(model):
        job = TrainingJob(model, H100, 1024, 4096, "fp8")
        plan = ParallelPlan(tp=1, pp=1, dp=64, ep=64, micro_batch=1, sharding="zero1", recompute="full")
        return float(evaluate(job, [plan], 64).ep_comm_s[0])

    free = v3.model_copy(update={"expert_groups": 0, "expert_groups_per_token": 0})
    ratio = ep_comm(v3) / ep_comm(free)
    unrestricted = 7 * (1 - (7 / 8) ** 8)
    limited = 4 * (1 - (3 / 4) ** 8) * 7 / 8
    assert ratio == pytest.approx(limited / unrestricted, rel=0.02)


def test_moe_token_permutation_moves_bytes_per_expert_copy():
    """Each token is copied once per routed expert before the expert GEMMs and the copies summed after:
    more experts per token, more elementwise traffic, at equal expert FLOPs."""
    base = get_model("mixtral-8x7b").model_copy(update={"n_experts": 64})
    plan = ParallelPlan(tp=1, pp=1, dp=8, ep=8, micro_batch=1, sharding="zero1", recompute="full")
    ew = {}
    for k, ffn in ((2, 14336), (8, 3584)):  # same routed expert FLOPs per token
        job = TrainingJob(base.model_copy(update={"experts_per_token": k, "ffn_hidden": ffn}), H100, 64, 4096)
        ew[k] = float(evaluate(job, [plan], 8).elementwise_s[0])
    assert ew[8] > 1.3 * ew[2]


def test_moe_parallel_folding_lets_ep_span_tensor_parallel_ranks():
    """Megatron-Core MoE parallel folding (expert TP 1): Qwen3-235B's published H100 layout tp=2 pp=8 ep=32
    on 256 GPUs has ep > dp; it is valid, each GPU holds 128/32 whole experts of every layer it owns."""
    m = get_model("qwen3-235b-a22b")
    job = TrainingJob(m, H100, 2048, 4096, "fp8")
    folded = ParallelPlan(tp=2, pp=8, dp=16, ep=32, vpp=4, micro_batch=1)
    res = evaluate(job, [folded, ParallelPlan(tp=2, pp=8, dp=16, ep=3, vpp=4)], 256)
    assert REASONS[int(res.reason[0])] in ("ok", REASONS[9]) and "ep" in REASONS[int(res.reason[1])]
    expert_params = m.n_moe_layers * m.n_experts * m.mlp_params(m.ffn_hidden)
    stage_layers = -(-m.n_layers // 8)
    per_gpu = expert_params * stage_layers / m.n_layers / 32
    assert res.weights_bytes[0] > 2 * per_gpu  # whole experts: not divided again by tp


def test_expert_all_to_all_overlap_hides_behind_compute():
    """ep_overlap (DualPipe, Megatron --overlap-moe-expert-parallel-comm): the all-to-all runs beside another
    micro-batch's compute; only what the overlap leaves is exposed, and the plan label says so."""
    job = TrainingJob(get_model("deepseek-v3"), H100, 1024, 4096, "fp8")
    base = ParallelPlan(tp=1, pp=16, dp=16, ep=16, micro_batch=1, sharding="distributed-optimizer", recompute="full")
    res = evaluate(job, [base, base.model_copy(update={"ep_overlap": True})], 256)
    assert 0 < res.ep_comm_s[1] < 0.75 * res.ep_comm_s[0]
    assert res.step_s[1] < res.step_s[0]
    assert "ep-overlap" in base.model_copy(update={"ep_overlap": True}).label()
    from flopwise.plan.parallel import parse_plan_spec
    assert parse_plan_spec("ep=16,a2a_overlap=true")["ep_overlap"] is True


def test_long_context_models_pre_train_at_8k_unless_told(cli):
    """Llama 3.1's context is 128k but it pre-trained at 8192; the default plan does too, and says so."""
    out = json.loads(cli("train", "llama-3.1-405b", "--tokens", "15e12", "--gpu", "h100-sxm5-80gb", "--gpus", "2048",
                         "--json", check=True).stdout)
    assert out["seq_len"] == 8192
    gpt3 = json.loads(cli("train", "gpt3-1.3b", "--tokens", "3e11", "--gpu", "a100-sxm4-80gb", "--gpus", "8",
                          "--json", check=True).stdout)
    assert gpt3["seq_len"] == 2048  # a shorter context is kept


def test_a_given_plan_that_cannot_run_is_refused_not_replaced(cli):
    """--plan tp=8,pp=4 on 8 GPUs must say why it cannot run, never quietly plan something else."""
    r = cli("train", "llama-3-8b", "--gpu", "h100-sxm5-80gb", "--gpus", "8", "--tokens", "1e11", "--plan", "tp=8,pp=4")
    assert r.returncode == 2 and "tp·pp·cp = 8·4·1 = 32 does not divide 8 GPUs" in r.stderr + r.stdout
    r = cli("train", "llama-3-8b", "--gpu", "h100-sxm5-80gb", "--gpus", "6", "--tokens", "1e11", "--plan", "tp=3")
    assert r.returncode == 2 and "heads" in r.stderr + r.stdout
    r = cli("train", "llama-3-8b", "--gpu", "h100-sxm5-80gb", "--gpus", "8", "--tokens", "1e11", "--plan", "tp=1,tp=2")
    assert r.returncode == 2 and "given twice" in r.stderr + r.stdout


def test_the_default_batch_grows_with_the_cluster_past_4m_tokens():
    """~4M tokens per step up to ~4k GPUs; beyond, ~1k tokens per GPU (Llama 3 405B: 16M on 16,384 H100)."""
    from flopwise.plan.training import default_global_batch

    assert default_global_batch(4096, 8) * 4096 == 4 * 2**20
    assert default_global_batch(4096, 2048) * 4096 == 4 * 2**20
    assert default_global_batch(8192, 16384) == 2048
    sizes = [default_global_batch(8192, n) for n in (1024, 4096, 8192, 16384, 32768)]
    assert sizes == sorted(sizes) and sizes[-1] == 2 * sizes[-2]


def test_flashattention3_class_kernels_speed_up_hopper_attention_only():
    """flash=3 (FlashAttention-3 / cuDNN fused attention): 0.42 vs 0.25 of the H100's dense peak in place,
    from the FA3 paper's 1.7x over FA2; the GEMMs and everything else are unchanged; on A100 (no FA3) the
    FA2-class rate holds."""
    from flopwise.plan.parallel import parse_plan_spec

    spec = parse_plan_spec("tp=1,flash=3")
    assert spec["flash_attention"] is True and spec["flash_version"] == 3
    with pytest.raises(Exception, match="kernel class"):
        parse_plan_spec("flash=4")
    job = TrainingJob(get_model("llama-3-8b"), H100, 64, 8192)
    fa2 = ParallelPlan(tp=1, pp=1, dp=8, micro_batch=1, sharding="fsdp", recompute="none")
    fa3 = fa2.model_copy(update={"flash_version": 3})
    res = evaluate(job, [fa2, fa3], 8)
    assert res.attention_s[1] == pytest.approx(res.attention_s[0] * 0.25 / 0.42, rel=1e-6)
    assert res.compute_s[1] == pytest.approx(res.compute_s[0])
    assert "fa3" in fa3.label() and "fa3" not in fa2.label()
    a100 = TrainingJob(get_model("llama-3-8b"), A100, 64, 8192)
    on_a100 = evaluate(a100, [fa2, fa3], 8)
    assert on_a100.attention_s[1] == pytest.approx(on_a100.attention_s[0])


def test_a_tpu_slice_is_one_ici_domain():
    """TPU hosts hold 4-8 chips, but a slice's chips all sit on the ICI torus: FSDP over a 256-chip v5e
    slice runs at ICI speed, and only across slices does traffic take the data-centre network."""
    v5e = make_cluster(gpu="tpu-v5e")
    assert v5e.gpus_per_node == 8 and v5e.fast_domain == 256
    job = TrainingJob(get_model("llama-3-8b"), v5e, 512, 2048)
    one_slice = ParallelPlan(tp=1, pp=1, dp=256, micro_batch=2, sharding="fsdp", recompute="full")
    res = evaluate(job, [one_slice], 256)
    hosts_as_nodes = evaluate(TrainingJob(job.model, v5e.model_copy(update={"link_domain": None}), 512, 2048),
                              [one_slice], 256)
    assert res.fsdp_comm_s[0] < 0.25 * hosts_as_nodes.fsdp_comm_s[0]
    two = evaluate(job, [one_slice.model_copy(update={"dp": 512, "micro_batch": 1})], 512)
    hsdp = evaluate(job, [one_slice.model_copy(update={"dp": 512, "micro_batch": 1, "sharding": "hsdp"})], 512)
    assert hsdp.optimizer_bytes[0] == pytest.approx(two.optimizer_bytes[0] * 2, rel=1e-6)  # sharded over one slice
    assert hsdp.step_s[0] < two.step_s[0]  # gathers stay on ICI


def test_moe_layers_wait_for_host_work_unless_another_micro_batch_runs_beside_them():
    from flopwise.estimate.efficiency import MOE_LAYER_HOST_S

    moe = TrainingJob(get_model("mixtral-8x7b"), H100, 256, 4096)
    plan = ParallelPlan(tp=1, pp=1, dp=16, ep=8, micro_batch=1, sharding="zero1", recompute="full")
    res = evaluate(moe, [plan, plan.model_copy(update={"ep_overlap": True})], 16)
    micro, layers = 256 // 16, get_model("mixtral-8x7b").n_layers
    assert res.moe_host_s[0] == pytest.approx(micro * layers * 2 * MOE_LAYER_HOST_S)
    assert res.moe_host_s[1] == 0
    dense = evaluate(TrainingJob(get_model("llama-2-7b"), H100, 256, 4096),
                     [ParallelPlan(tp=1, pp=1, dp=16, micro_batch=1, sharding="zero1", recompute="full")], 16)
    assert dense.moe_host_s[0] == 0
