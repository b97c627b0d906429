"""`flopwise validate`: accepts any file in the shared schema and scores it honestly."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from flopwise.catalog._files import data_path

TRAINING = data_path("training_public.csv")


def test_bundled_training_runs_meet_the_median_target(cli):
    out = cli("validate", "--runs", str(TRAINING), "--json", check=True)
    rep = json.loads(out.stdout)
    assert {"rows", "median_abs_error", "max_abs_error"} <= rep.keys()
    scored = [r for r in rep["rows"] if r["error"] is not None]
    assert len(scored) >= 60
    for r in scored:
        assert {"id", "predicted", "measured", "error"} <= r.keys()
        assert r["error"] == pytest.approx(r["predicted"] / r["measured"] - 1)
    assert rep["median_abs_error"] <= 0.10
    # benchmark-throughput rows (not whole-run GPU-hours) stay within 25%
    bench = [abs(r["error"]) for r in scored if r["metric"] != "gpu_hours"]
    assert max(bench) <= 0.25
    groups = rep["groups"]
    assert groups["throughput benchmarks"]["scored"] == len(bench)
    assert groups["throughput benchmarks"]["max_abs_error"] == pytest.approx(max(bench))
    assert groups["whole-run GPU-hours"]["scored"] == len(scored) - len(bench)


def test_any_file_in_the_schema(tmp_path: Path, cli):
    rows = list(csv.DictReader(open(TRAINING, newline="")))
    keep = [r for r in rows if r["id"] in {"korth-1T-sel", "torchtitan-a100-3"}]
    custom = tmp_path / "mine.csv"
    with open(custom, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()) + ["extra_column"])
        w.writeheader()
        for r in keep:
            w.writerow({**r, "extra_column": "ignored"})
    rep = json.loads(cli("validate", "--runs", str(custom), "--json", check=True).stdout)
    assert [r["id"] for r in rep["rows"]] == ["korth-1T-sel", "torchtitan-a100-3"]
    assert rep["max_abs_error"] < 0.25


def test_bad_runs_files(tmp_path: Path, cli):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,value\nx,1\n")
    out = cli("validate", "--runs", str(bad))
    assert out.returncode == 2 and "id" in out.stderr
    typo = tmp_path / "typo.csv"
    rows = list(csv.DictReader(open(TRAINING, newline="")))
    with open(typo, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerow({**rows[0], "layers": "many"})
    rep = json.loads(cli("validate", "--runs", str(typo), "--json", check=True).stdout)  # the row, not the file
    assert rep["skipped"] == 1 and "column 'layers'" in rep["rows"][0]["note"]
    out = cli("validate", "--runs", str(tmp_path / "missing.csv"))
    assert out.returncode == 2 and "does not exist" in out.stderr


@pytest.mark.parametrize("params_b", [1.0, 6.74, 13.0, 34.0, 70.0, 405.0])
def test_rows_without_a_shape_get_a_llama_like_model_of_their_size(params_b):
    from flopwise.catalog.runs import TrainingRun
    from flopwise.validate.architecture import model_from_row

    row = TrainingRun(id="x", params_b=params_b, seq_len=4096)
    model, notes = model_from_row(row, 4096)
    assert model.params_total == pytest.approx(params_b * 1e9, rel=0.12)
    assert model.mlp == "swiglu" and model.d_model % 128 == 0 and model.n_heads * 128 == model.d_model
    assert any("Llama-like shape" in n for n in notes)
    if params_b == 6.74:  # Llama 2 7B's real shape
        assert (model.n_layers, model.d_model) == (32, 4096)
    gqa, gqa_notes = model_from_row(row.model_copy(update={"notes": "uses GQA but its shape is not published"}), 4096)
    assert gqa.kv_heads == 8 and gqa.params_total == pytest.approx(params_b * 1e9, rel=0.12)
    assert gqa.n_layers >= model.n_layers and "8 KV heads" in gqa_notes[0]


def test_a_published_batch_the_gpus_cannot_divide_is_rounded_and_said(tmp_path: Path, cli):
    rows = list(csv.DictReader(open(TRAINING, newline="")))
    base = next(r for r in rows if r["id"] == "meg21-t2-7")  # GPT-3 175B, tp=8 pp=12, 1536 seqs
    odd = {**base, "id": "odd-batch", "num_accelerators": "384", "dp": "4", "global_batch_seqs": "1538"}
    shapeless = {**base, "id": "no-shape", "layers": "", "hidden": "", "heads": "", "ffn_hidden": "", "kv_heads": "",
                 "tp": "", "pp": "", "dp": "", "vpp": "", "micro_batch": ""}
    path = tmp_path / "odd.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows([odd, shapeless])
    rep = json.loads(cli("validate", "--runs", str(path), "--json", check=True).stdout)
    odd_row, shapeless_row = rep["rows"]
    assert odd_row["error"] is not None and "evaluated at 1536" in odd_row["note"]
    assert abs(odd_row["error"]) < 0.15
    assert shapeless_row["error"] is not None and "Llama-like shape for 174.6B" in shapeless_row["note"]


def test_the_activation_named_in_the_notes_beats_the_ffn_ratio():
    """PaLM: SwiGLU with ffn = 4·d. The schema names the activation in the notes."""
    from flopwise.catalog.runs import TrainingRun
    from flopwise.validate.architecture import model_from_row

    shape = dict(id="palm", params_b=540, layers=118, hidden=18432, ffn_hidden=73728, heads=48, kv_heads=1, vocab=256000)
    gated, _ = model_from_row(TrainingRun(**shape, notes="arch: swiglu; parallel layers"), 2048)
    plain, _ = model_from_row(TrainingRun(**shape, notes=""), 2048)
    assert gated.mlp == "swiglu" and plain.mlp == "gelu"
    assert gated.params_total == pytest.approx(540e9, rel=0.08)  # head dim 256 is not in the schema
    assert plain.params_total < 0.8 * 540e9


@pytest.mark.parametrize("name,median_max", [("llm_foundry_mpt_benchmarks.csv", 0.06), ("torchtitan_h100_performance.csv", 0.15),
                                             ("megatron_lm_2019_v100.csv", 0.25), ("trtllm_v0.14_perf_overview.csv", 0.25),
                                             ("nemo_performance_summary.csv", 0.25),
                                             ("tpu_training_performance.csv", 0.12), ("frontier_runs.csv", 0.30)])
def test_extra_published_runs_are_all_scored(name, median_max, cli):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / name
    rep = json.loads(cli("validate", "--runs", str(path), "--json", check=True).stdout)
    assert rep["skipped"] == 0 and rep["scored"] == len(rep["rows"]) > 0
    assert rep["median_abs_error"] <= median_max


@pytest.mark.parametrize("note,counts", [
    ("MFU = (6N + attention) per token", True), ("MFU counts 6N only", False), ("excludes attention FLOPs", False),
    ("derived MFU = 6*65.2e9*380/312e12", False), ("hidden 6144; GELU MLP 4h", True), ("", True),
])
def test_mfu_definitions_with_and_without_attention(note, counts):
    from flopwise.catalog.runs import TrainingRun
    from flopwise.validate.training import convention_flops_per_token, counts_attention_flops

    assert counts_attention_flops(TrainingRun(id="x", notes=note)) is counts
    from flopwise.catalog.models import get_model

    m = get_model("llama-3-8b")
    with_attn = convention_flops_per_token(m, 8192, "none", "model", True)
    six_n = convention_flops_per_token(m, 8192, "none", "model", False)
    assert with_attn > 1.15 * six_n  # at 8k tokens attention is a large share of Llama 3 8B's FLOPs


def test_moe_shared_experts_and_dense_layers_come_from_the_notes():
    """The schema keeps shared experts and dense-layer sizes in the notes (DeepSeek-V3: 671B / 37B)."""
    from flopwise.catalog.runs import TrainingRun
    from flopwise.validate.architecture import model_from_row

    row = TrainingRun(id="dsv3", params_b=671, active_params_b=37, layers=61, hidden=7168, ffn_hidden=2048, heads=128,
                      vocab=129280, experts=256, experts_per_token=8,
                      notes="MLA kv rank 512; 1 shared expert; first 3 layers dense ffn 18432")
    m, notes = model_from_row(row, 4096)
    assert (m.n_shared_experts, m.n_dense_layers, m.dense_ffn_hidden) == (1, 3, 18432)
    assert m.params_total == pytest.approx(671e9, rel=0.02) and m.params_active == pytest.approx(37e9, rel=0.06)
    assert not notes
    bare, _ = model_from_row(row.model_copy(update={"notes": ""}), 4096)
    assert bare.n_shared_experts == 0 and bare.params_total > 1.04 * 671e9


def test_rows_the_model_cannot_take_are_skipped_with_a_reason_not_a_crash(tmp_path: Path, cli):
    rows = list(csv.DictReader(open(TRAINING, newline="")))
    base = next(r for r in rows if r["id"] == "torchtitan-a100-1")
    bad_heads = {**base, "id": "bad-heads", "heads": "7", "kv_heads": "3"}  # 3 does not divide 7
    moe_no_k = {**base, "id": "moe-no-k", "experts": "8", "experts_per_token": "", "active_params_b": ""}
    path = tmp_path / "odd.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows([bad_heads, moe_no_k, base])
    out = cli("validate", "--runs", str(path), "--json", check=True)
    rep = json.loads(out.stdout)
    by = {r["id"]: r for r in rep["rows"]}
    assert by["bad-heads"]["error"] is None and by["bad-heads"]["note"].startswith("skipped:")
    assert "\n" not in by["bad-heads"]["note"]
    assert by["moe-no-k"]["error"] is not None and "experts per token not given: assumed 2" in by["moe-no-k"]["note"]
    assert by["torchtitan-a100-1"]["error"] is not None


def test_a_row_naming_a_catalog_model_gets_the_catalogs_full_architecture():
    """The schema has no columns for MLA or per-layer biases; a row naming a catalog model whose shape
    columns agree takes the catalog's architecture, and one that disagrees keeps its own columns."""
    from flopwise.catalog.runs import TrainingRun
    from flopwise.validate.architecture import model_from_row

    row = TrainingRun(id="dsv3", model="DeepSeek-V3", layers=61, hidden=7168, ffn_hidden=2048, heads=128,
                      experts=256, experts_per_token=8)
    m, notes = model_from_row(row, 4096)
    assert m.kv_lora_rank == 512 and m.n_shared_experts == 1 and m.max_seq_len >= 4096
    assert "catalog" in notes[0]
    other, other_notes = model_from_row(row.model_copy(update={"layers": 60}), 4096)
    assert other.kv_lora_rank in (None, 0) and not any("catalog" in n for n in other_notes)


@pytest.mark.parametrize("note,acc,watts", [("A100-80GB TDP 350-400W (two clusters)", "a100-sxm4-80gb", 375.0),
                                            ("A100-80GB 400W NVLink systems", "a100-sxm4-80gb", None),
                                            ("power capped at 500 W", "h100-sxm5-80gb", 500.0), ("", "h100-sxm5-80gb", None)])
def test_a_power_limit_in_the_notes_caps_the_accelerators(note, acc, watts):
    from flopwise.catalog.accelerators import get_accelerator
    from flopwise.catalog.runs import TrainingRun
    from flopwise.validate.training import power_limit_w

    assert power_limit_w(TrainingRun(id="x", notes=note), get_accelerator(acc)) == watts


def test_a_capped_fleet_takes_longer_and_features_follow_the_sources_year():
    from flopwise.catalog.runs import TrainingRun
    from flopwise.validate.training import _pinned, score_training_row

    row = TrainingRun(id="x", model="Llama 2 7B", accelerator="a100-sxm4-80gb", num_accelerators=256, seq_len=4096,
                      global_batch_seqs=1024, training_tokens=int(1e11), measured_gpu_hours=20000.0)
    full = score_training_row(row)
    capped = score_training_row(row.model_copy(update={"notes": "TDP 300 W"}))
    assert capped.predicted > 1.05 * full.predicted and "power limit 300 W" in capped.note
    assert _pinned(TrainingRun(id="x", source="Someone et al. 2023"))["cp"] == 1  # CP reached the stacks in 2024
    assert "cp" not in _pinned(TrainingRun(id="x", source="Someone et al. 2024"))
    assert _pinned(TrainingRun(id="x", source="Someone et al. 2021"))["sequence_parallel"] is False


def test_a_whole_run_without_a_dated_source_takes_its_models_publication_year():
    from flopwise.catalog.models import series_source
    from flopwise.catalog.runs import TrainingRun
    from flopwise.validate.training import _pinned

    # the unreleased Llama 2 34B was published with its siblings (Llama 2 paper, 2023)
    assert "2023" in series_source("Llama 2 34B") and series_source("Llama 9 34B") is None
    whole = TrainingRun(id="x", model="Llama 2 34B", source="a model card", training_tokens=int(2e12),
                        measured_gpu_hours=1e6)
    assert _pinned(whole)["cp"] == 1
    # a throughput row of an old architecture may come from a later stack: its model's year says nothing
    bench = whole.model_copy(update={"training_tokens": None, "measured_gpu_hours": None,
                                     "measured_tokens_per_s_per_gpu": 1000.0})
    assert "cp" not in _pinned(bench)


def test_a_row_without_a_sequence_length_uses_the_pretraining_default():
    from flopwise.catalog.runs import TrainingRun
    from flopwise.validate.training import score_training_row

    row = TrainingRun(id="x", model="Llama 3.1 405B", accelerator="h100-sxm5-80gb", num_accelerators=2048,
                      global_batch_seqs=2048, measured_tokens_per_s_per_gpu=200.0)
    s = score_training_row(row)
    assert s.error is not None and "sequence length not given: assumed 8192" in s.note


def test_the_attention_kernel_class_comes_from_the_notes():
    from flopwise.catalog.runs import TrainingRun
    from flopwise.validate.training import _pinned

    assert _pinned(TrainingRun(id="x", notes="TE with cuDNN fused attention"))["flash_version"] == 3
    assert _pinned(TrainingRun(id="x", notes="FlashAttention-3 kernels"))["flash_version"] == 3
    assert "flash_version" not in _pinned(TrainingRun(id="x", notes="SDPA flash; commit 9fa3c1"))


def test_causal_attention_counts_and_head_dims_named_in_the_notes():
    """MaxText counts causal attention (half the square) in its model FLOPs, and its models' attention is
    wider than d_model; both live in the notes, and both change what is compared."""
    from flopwise.catalog.runs import TrainingRun
    from flopwise.validate.architecture import model_from_row
    from flopwise.validate.training import attention_counting, convention_flops_per_token

    assert attention_counting(TrainingRun(id="x", notes="6N + attention halved for causality")) == "causal"
    assert attention_counting(TrainingRun(id="x", notes="PaLM App. B: 6N + full attention")) is True
    assert attention_counting(TrainingRun(id="x", notes="MFU counts 6N only")) is False
    row = TrainingRun(id="x", params_b=16, layers=32, hidden=4096, ffn_hidden=28672, heads=64, kv_heads=64,
                      vocab=32000, notes="arch: swiglu; 64 heads of head_dim 128 (query width 8192)")
    m, _ = model_from_row(row, 2048)
    assert m.hd == 128 and m.attn_dim == 8192
    full = convention_flops_per_token(m, 2048, "none", "model", True)
    causal = convention_flops_per_token(m, 2048, "none", "model", "causal")
    none = convention_flops_per_token(m, 2048, "none", "model", False)
    assert none < causal < full and (full - none) == pytest.approx(2 * (causal - none))


def test_the_report_breaks_the_error_down_by_accelerator_with_its_bias(cli):
    rep = json.loads(cli("validate", "--kind", "training", "--json", check=True).stdout)
    rep = rep[0] if isinstance(rep, list) else rep
    by = rep["by_accelerator"]
    assert {"a100-sxm4-80gb", "h100-sxm5-80gb"} <= set(by)
    assert sum(g["scored"] for g in by.values()) == rep["scored"]
    a40 = by["a100-sxm4-40gb"]  # the Pythia runs: every one slower than predicted
    assert a40["median_error"] < 0 and a40["median_abs_error"] == pytest.approx(-a40["median_error"])
    out = cli("validate", "--kind", "training", check=True).stdout
    assert "by accelerator" in out


def test_the_bundled_track_record_is_what_the_bundled_sets_score_today():
    """track_record.yaml (what `flopwise train` prints as its track record) must be regenerated whenever the
    estimator or the sets change: benchmarks/accuracy_report.py --track-record."""
    from flopwise.catalog.track_record import _bundled
    from flopwise.validate.track_record import compute

    root = Path(__file__).resolve().parents[1]
    for kind, must in (("training", {"ampere", "hopper", "tpu-v5"}), ("inference", {"ampere", "hopper", "hopper-moe"})):
        fresh, bundled = compute(root, kind), _bundled(kind)
        assert set(fresh) == set(bundled) and must <= set(fresh), kind
        for gen, rec in fresh.items():
            b = bundled[gen]
            assert b.rows == rec.rows, (kind, gen)
            assert b.median_abs_error == pytest.approx(rec.median_abs_error, abs=1e-3), (kind, gen)
            assert b.median_error == pytest.approx(rec.median_error, abs=1e-3), (kind, gen)


def test_train_prints_the_track_record_of_its_hardware(cli):
    out = json.loads(cli("train", "llama-3-8b", "--tokens", "1e12", "--gpu", "a100-sxm4-80gb", "--gpus", "64",
                         "--json", check=True).stdout)
    tr = out["track_record"]
    assert tr["generation"] == "ampere" and tr["rows"] > 100 and 0 < tr["median_abs_error"] < 0.10
    txt = cli("train", "llama-3-8b", "--tokens", "1e12", "--gpu", "mi300x", "--gpus", "8", check=True).stdout
    assert "unvalidated" in txt
    assumed = json.loads(cli("train", "llama-3-8b", "--tokens", "1e12", "--gpu", "a100-sxm4-80gb", "--gpus", "64",
                             "--mfu", "0.4", "--json", check=True).stdout)
    assert assumed["track_record"] is None
    serve = json.loads(cli("serve", "mixtral-8x7b", "--gpu", "h100-sxm5-80gb", "--input", "1000", "--output", "200",
                           "--json", check=True).stdout)
    assert serve["track_record"]["generation"] == "hopper" and serve["track_record"]["rows"] > 50


def test_a_row_without_a_gpu_count_keeps_its_published_layout():
    """2048 GPUs are assumed, rounded to whole model-parallel groups, so tp=8 pp=12 still evaluates as given."""
    from flopwise.catalog.runs import TrainingRun
    from flopwise.validate.training import score_training_row

    row = TrainingRun(id="x", source="NVIDIA 2024", model="Nemotron-4 340B", seq_len=4096, global_batch_seqs=2016,
                      accelerator="h100-sxm5-80gb", tp=8, pp=12, measured_tokens_per_s_per_gpu=100.0)
    s = score_training_row(row)
    assert "GPU count not given: assumed 2016" in s.note and s.plan.startswith("tp=8 pp=12 dp=21")


def test_validate_row_explains_one_row_by_component(cli):
    """`--row ID` scores just that row and shows where its predicted step time and memory go."""
    out = json.loads(cli("validate", "--row", "pythia-70m", "--json", check=True).stdout)
    assert [r["id"] for r in out["rows"]] == ["pythia-70m"]
    b = out["rows"][0]["breakdown"]
    step, mem = b["step_s"], b["memory_gib"]
    assert sum(v for k, v in step.items() if k != "total") == pytest.approx(step["total"], rel=1e-9)
    assert sum(v for k, v in mem.items() if k != "total") == pytest.approx(mem["total"], rel=1e-9)
    assert step["compute"] > step["attention"] > 0 and mem["activations"] > mem["weights"]
    plain = json.loads(cli("validate", "--kind", "training", "--json", check=True).stdout)
    assert all(r["breakdown"] is None for r in plain["rows"])  # only asked-for rows carry it
    bad = cli("validate", "--row", "pythia-70")
    assert bad.returncode == 2 and "did you mean" in bad.stderr and "pythia-70m" in bad.stderr


def test_a_runs_file_with_only_some_columns_is_read_by_its_kind(cli, tmp_path):
    """A CSV need not carry the whole schema: its kind comes from whichever kind's own columns it has."""
    train = tmp_path / "t.csv"
    train.write_text("id,model,accelerator,num_accelerators,measured_mfu\nx,Llama 3 8B,h100,8,0.4\n")
    infer = tmp_path / "i.csv"
    infer.write_text("id,model,accelerator,num_accelerators,input_len,output_len,measured_ttft_ms\n"
                     "y,Llama 3 8B,h100,1,2048,1,100\n")
    t = json.loads(cli("validate", "--runs", str(train), "--json", check=True).stdout)
    i = json.loads(cli("validate", "--runs", str(infer), "--json", check=True).stdout)
    assert (t["kind"], t["scored"], i["kind"], i["scored"]) == ("training", 1, "inference", 1)


def test_inference_rows_as_benchmarks_write_them():
    """Scenario and 'per' spellings, total tokens/s, a p99 first-token figure, a closed loop of clients."""
    from flopwise.catalog.runs import InferenceRun
    from flopwise.validate.inference import score_inference_row

    base = dict(id="x", model="Llama 3 8B", engine="vLLM 0.6", accelerator="H100 SXM", num_accelerators=1, tp=1,
                input_len=1000, output_len=200, weight_precision="bf16")
    assert InferenceRun(**base, scenario="Online", per="node").scenario == "server"
    out = score_inference_row(InferenceRun(**base, scenario="offline", measured_output_tokens_per_s=5000))
    total = score_inference_row(InferenceRun(**base, scenario="offline", measured_total_tokens_per_s=5000))
    assert total.metric == "total_tok_s (per gpu)" and total.predicted == pytest.approx(out.predicted * 1200 / 200)
    p99 = score_inference_row(InferenceRun(**base, scenario="server", request_rate=5, measured_ttft_ms=100,
                                           latency_statistic="p99"))
    mean = score_inference_row(InferenceRun(**base, scenario="server", request_rate=5, measured_ttft_ms=100))
    assert p99.metric == "ttft_p99_ms" and p99.predicted >= mean.predicted > 0
    closed = score_inference_row(InferenceRun(**base, scenario="server", concurrency=32, measured_tpot_ms=20))
    assert closed.error is not None and "b=32" in closed.plan
    with pytest.raises(ValueError, match="unknown scenario 'bursty'"):
        InferenceRun(**base, scenario="bursty")


def test_one_bad_row_does_not_sink_the_file(cli, tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("id,model,accelerator,num_accelerators,sharding,measured_mfu\n"
                    "good,Llama 3 8B,h100,8,fsdp,0.4\nbad,Llama 3 8B,h100,8,zero4,0.4\n")
    rep = json.loads(cli("validate", "--runs", str(path), "--json", check=True).stdout)
    assert (rep["scored"], rep["skipped"]) == (1, 1)
    assert "unknown sharding 'zero4'" in next(r["note"] for r in rep["rows"] if r["id"] == "bad")
