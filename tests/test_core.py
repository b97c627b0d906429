"""Core arithmetic: FLOPs, memory formulas from the papers, catalog lookups, CLI errors."""

from __future__ import annotations

import json

import pytest

from flopwise.catalog.accelerators import all_accelerators, get_accelerator
from flopwise.catalog.models import get_model
from flopwise.errors import FlopwiseError
from flopwise.estimate.flops import decode_flops_per_token, prefill_flops, training_flops
from flopwise.estimate.memory import (
    activation_bytes_per_layer,
    inference_memory,
    kv_cache_bytes_per_token,
    model_state_bytes,
)
from flopwise.spec.model import ModelSpec

GPT_LIKE = ModelSpec(name="gpt", n_layers=24, d_model=2048, n_heads=16, ffn_hidden=8192, mlp="gelu",
                     vocab_size=51200, max_seq_len=2048, norm="layernorm", attn_bias=True, mlp_bias=True,
                     dropout=True)


def test_gpt3_training_flops_matches_published():
    # Brown et al. 2020 / Kaplan convention: GPT-3 175B on 300B tokens ≈ 3.14e23 FLOPs
    fl = training_flops(get_model("gpt3-175b"), 300e9)
    assert fl.total_flops == pytest.approx(3.14e23, rel=0.03)
    assert fl.dense_flops == pytest.approx(6 * 173.95e9 * 300e9, rel=0.01)
    assert 0 < fl.attention_flops < 0.05 * fl.total_flops


def test_doubling_tokens_doubles_training_flops():
    m = get_model("llama-2-7b")
    assert training_flops(m, 2e12).total_flops == pytest.approx(2 * training_flops(m, 1e12).total_flops)


def test_a16z_forward_rule_of_thumb():
    # a forward pass over n tokens costs about 2·n·p FLOPs (attention adds a little at short context)
    m = get_model("llama-2-7b")
    n = 512
    fwd = prefill_flops(m, n).total_flops
    assert fwd == pytest.approx(2 * n * m.params_total, rel=0.06)


def test_moe_flops_use_active_parameters():
    m = get_model("mixtral-8x7b")
    per_tok = decode_flops_per_token(m, 1).dense_flops
    assert per_tok == pytest.approx(2 * (m.params_active - m.params_embedding), rel=0.01)
    assert per_tok < 2 * 0.3 * m.params_total


def test_mixed_precision_adam_is_16_bytes_per_param():
    st = model_state_bytes(1e9)
    assert st.total_bytes == pytest.approx(16e9)
    assert (st.weights_bytes, st.gradients_bytes, st.optimizer_bytes) == (2e9, 2e9, 12e9)


def test_korthikanti_activation_equations():
    s, b, h, a, t = 2048, 1, GPT_LIKE.d_model, GPT_LIKE.n_heads, 8
    sbh = s * b * h
    # eq. 1: no parallelism, no recompute, materialised attention scores
    full = activation_bytes_per_layer(GPT_LIKE, s, b, flash_attention=False)
    assert full == pytest.approx(sbh * (34 + 5 * a * s / h))
    # eq. 2: tensor parallel without sequence parallel
    tp = activation_bytes_per_layer(GPT_LIKE, s, b, tp=t, flash_attention=False)
    assert tp == pytest.approx(sbh * (10 + 24 / t + 5 * a * s / (h * t)))
    # eq. 4: tensor + sequence parallel
    sp = activation_bytes_per_layer(GPT_LIKE, s, b, tp=t, sequence_parallel=True, flash_attention=False)
    assert sp == pytest.approx(sbh / t * (34 + 5 * a * s / h))
    # selective recompute drops the 5as/h term; full recompute keeps 2sbh
    sel = activation_bytes_per_layer(GPT_LIKE, s, b, tp=t, sequence_parallel=True, recompute="selective", flash_attention=False)
    assert sel == pytest.approx(sbh * 34 / t)
    assert activation_bytes_per_layer(GPT_LIKE, s, b, recompute="full") == pytest.approx(2 * sbh)
    # without dropout the two residual masks (1+1 bytes) and the attention-dropout mask (1 per score) go
    no_drop = GPT_LIKE.model_copy(update={"dropout": False})
    assert activation_bytes_per_layer(no_drop, s, b, flash_attention=False) == pytest.approx(sbh * (32 + 4 * a * s / h))


def test_kv_cache_formula():
    m = get_model("llama-3-70b")  # 80 layers, 8 KV heads of 128
    assert kv_cache_bytes_per_token(m, "bf16") == 2 * 80 * 8 * 128 * 2
    mem = inference_memory(m, tokens_in_cache=4096 * 8, weight_precision="int4", kv_precision="fp8")
    assert mem.weights_bytes == pytest.approx(m.params_total * 0.5)
    assert mem.kv_cache_bytes == pytest.approx(2 * 80 * 8 * 128 * 1 * 4096 * 8)


def test_accelerator_catalog_ids_and_peaks():
    ids = {a.id for a in all_accelerators()}
    for required in ("a100-sxm4-40gb", "a100-sxm4-80gb", "h100-sxm5-80gb", "h100-pcie-80gb", "h200-sxm-141gb",
                     "b200", "mi300x", "rtx-4090", "rtx-3080-ti", "tpu-v4", "gaudi2"):
        assert required in ids
    assert len(ids) >= 35
    h100 = get_accelerator("h100-sxm5-80gb")
    assert h100.peak("bf16") == pytest.approx(989.4e12)
    assert h100.peak("fp8") == pytest.approx(2 * h100.peak("bf16"), rel=1e-3)
    assert get_accelerator("v100-sxm2-32gb").peak("bf16") == pytest.approx(125e12)  # falls back to fp16 rate
    with pytest.raises(FlopwiseError, match="no fp8"):
        get_accelerator("a100-sxm4-80gb").peak("fp8")


def test_close_matches_for_unknown_accelerator():
    with pytest.raises(FlopwiseError, match="a100-sxm4-80gb"):
        get_accelerator("a100-80")


# ---- CLI -------------------------------------------------------------------------------------

def test_cli_model_show_json(cli):
    out = cli("model", "show", "llama-2-7b", "--json", check=True)
    data = json.loads(out.stdout)
    assert data["params_total"] == pytest.approx(6.74e9, rel=0.005)
    assert set(data["weights_bytes"]) >= {"fp32", "bf16", "fp8", "int8", "int4"}
    assert data["weights_bytes"]["int4"] == pytest.approx(data["weights_bytes"]["bf16"] / 4)


def test_cli_gpu_list_and_show(cli):
    rows = json.loads(cli("gpu", "list", "--json", check=True).stdout)
    assert any(r["id"] == "mi300x" for r in rows)
    one = json.loads(cli("gpu", "show", "h200-sxm-141gb", "--json", check=True).stdout)
    assert one["catalog_row"]["source"]


def test_cli_train_with_assumed_mfu(cli):
    out = cli("train", "gpt3-175b", "--tokens", "300e9", "--gpu", "a100-sxm4-80gb", "--gpus", "1024",
              "--mfu", "0.5", "--price-per-gpu-hour", "2", "--json", check=True)
    d = json.loads(out.stdout)
    assert d["mode"] == "assumed-mfu"
    assert d["flops"]["flops_total"] == pytest.approx(3.14e23, rel=0.03)
    expected_s = d["flops"]["flops_total"] / (0.5 * 312e12 * 1024)
    assert d["train_s"] == pytest.approx(expected_s, rel=1e-6)
    assert d["cost_usd"] == pytest.approx(d["gpu_hours"] * 2)


@pytest.mark.parametrize(
    "args, needle",
    [
        (("train", "llama-2-7b", "--tokens", "1e12", "--gpu", "a100-80", "--gpus", "8"), "did you mean"),
        (("train", "llama-2-7", "--tokens", "1e12", "--gpu", "h100", "--gpus", "8"), "unknown model"),
        (("train", "llama-2-7b", "--tokens", "-5", "--gpu", "h100", "--gpus", "8"), "positive"),
        (("train", "llama-2-7b", "--tokens", "1e12", "--gpu", "h100", "--gpus", "0"), "positive"),
        (("train", "llama-2-7b", "--tokens", "lots", "--gpu", "h100", "--gpus", "8"), "number"),
        (("train", "llama-2-7b", "--tokens", "1e12", "--gpu", "h100", "--gpus", "8", "--mfu", "1.5"), "--mfu"),
        (("train", "llama-2-7b", "--tokens", "1e12", "--gpu", "h100", "--gpus", "8", "--plan", "tq=2"), "unknown plan key"),
        (("gpu", "show", "h1000"), "unknown accelerator"),
        (("train", "llama-2-7b", "--gpu", "h100", "--gpus", "8"), "Missing option '--tokens'"),
        (("train", "llama-2-7b", "--tokens", "1e12", "--gpus", "8", "--bogus", "1"), "No such option"),
        (("model", "show", "tests/fixtures/hf/malformed/config.json"), "not valid JSON"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(cli, args, needle):
    out = cli(*args)
    assert out.returncode == 2, out.stderr
    assert needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_cli_bad_files_and_values_are_one_line_exit_2(cli, tmp_path):
    """Binary files, bad cluster YAMLs, infinite numbers, impossible runs rows: one line, exit 2."""
    png = tmp_path / "img.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    fake = tmp_path / "fake.json"
    fake.write_bytes(png.read_bytes())
    bad_key = tmp_path / "c1.yaml"
    bad_key.write_text("accelerator: h100-sxm5-80gb\ngpus_per_nod: 8\n")
    bad_val = tmp_path / "c2.yaml"
    bad_val.write_text("accelerator: h100-sxm5-80gb\ngpus_per_node: -8\n")
    runs = tmp_path / "runs.csv"
    runs.write_text("id,model,accelerator,num_accelerators,tp,measured_tflops_per_gpu\nx,GPT-3 175B,a100-sxm4-80gb,8,-2,100\n")
    train = ("train", "llama-2-7b", "--tokens", "1e12", "--gpus", "16")
    cases = [
        (("model", "show", str(fake)), "is not a text file"),
        (("validate", "--runs", str(png)), "is not a text file"),
        ((*train, "--cluster", str(bad_key)), "did you mean 'gpus_per_node'"),
        ((*train, "--cluster", str(bad_val)), "field 'gpus_per_node'"),
        ((*train, "--gpu", "h100", "--export", "megatron", "--out", str(png)), "is a file, not a folder"),
        (("budget", "--gpu", "h100", "--usd", "inf"), "positive finite"),
        (("tco", "--gpu", "h100", "--years", "inf"), "positive finite"),
        (("serve", "llama-2-7b", "--gpu", "h100", "--rate", "inf/s"), "positive finite"),
    ]
    for args, needle in cases:
        out = cli(*args)
        assert out.returncode == 2 and needle in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    # an impossible value in a runs file skips that row, with the reason, and scores the rest
    import json

    rep = json.loads(cli("validate", "--runs", str(runs), "--json", check=True).stdout)
    assert rep["scored"] == 0 and rep["skipped"] == 1
    assert "line 2, column 'tp': must be a positive finite number" in rep["rows"][0]["note"]


def test_version(cli):
    from flopwise import __version__

    assert cli("--version", check=True).stdout.strip() == f"flopwise {__version__}"


def test_gpu_systems_lists_every_bundled_system_with_its_fast_link_reach(cli):
    import json

    rows = json.loads(cli("gpu", "systems", "--json", check=True).stdout)
    by = {r["id"]: r for r in rows}
    assert {"dgx-a100", "dgx-h100", "hgx-h200", "pcie-4090x8", "tpu-v4-slice", "tpu-v5e-pod"} <= set(by)
    assert by["dgx-h100"]["fast_domain"] == 8 and by["gb200-nvl72"]["fast_domain"] == 72
    assert by["tpu-v5e-pod"]["fast_domain"] == 256 and by["tpu-v5e-pod"]["gpus_per_node"] == 8


def test_accelerators_and_precisions_as_papers_spell_them():
    from flopwise.catalog.accelerators import get_accelerator
    from flopwise.catalog.runs import TrainingRun

    for name, want in [("H100 SXM5 80GB", "h100-sxm5-80gb"), ("NVIDIA H100 80GB HBM3", "h100-sxm5-80gb"),
                       ("TPU v5p", "tpu-v5p"), ("RTX 4090", "rtx-4090"), ("NVIDIA A100 80GB", "a100-sxm4-80gb")]:
        assert get_accelerator(name).id == want
    for spelled, want in [("BF16", "bf16"), ("amp_bf16", "bf16"), ("bf16-mixed", "bf16"), ("FP8 (TE)", "fp8"),
                          ("fp8_hybrid", "fp8"), ("float16", "fp16")]:
        assert TrainingRun(id="x", precision=spelled).precision == want
    with pytest.raises(ValueError, match="unknown training precision 'int3'"):
        TrainingRun(id="x", precision="int3")


def test_sharding_and_recompute_as_frameworks_spell_them():
    from flopwise.catalog.runs import TrainingRun

    for spelled, want in [("ZeRO-1", "zero1"), ("FSDP", "fsdp"), ("full_shard", "fsdp"), ("HYBRID_SHARD", "hsdp"),
                          ("ddp", "none"), ("distributed_optimizer", "distributed-optimizer")]:
        assert TrainingRun(id="x", sharding=spelled).sharding == want
    for spelled, want in [("true", "full"), ("FULL", "full"), ("False", "none"), ("selective", "selective")]:
        assert TrainingRun(id="x", recompute=spelled).recompute == want
    with pytest.raises(ValueError, match="unknown sharding 'zero4'"):
        TrainingRun(id="x", sharding="zero4")
