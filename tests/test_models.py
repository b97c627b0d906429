"""Model catalog and Hugging Face config.json parsing, checked against published parameter counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flopwise.catalog import hf_config
from flopwise.catalog._files import load_yaml
from flopwise.catalog.hf_config import SUPPORTED_MODEL_TYPES, fetch_hf_config, model_from_hf_config
from flopwise.catalog.models import get_model, model_ids, resolve_model
from flopwise.errors import FlopwiseError
from flopwise.spec.model import ModelSpec

HF = Path(__file__).parent / "fixtures" / "hf"


def hf(name: str) -> ModelSpec:
    return resolve_model(str(HF / name / "config.json"))


def rel(a: float, b: float) -> float:
    return abs(a / b - 1.0)


# ---- the catalog --------------------------------------------------------------------------------

REQUIRED_IDS = [
    "gpt3-125m", "gpt3-350m", "gpt3-1.3b", "gpt3-2.7b", "gpt3-6.7b", "gpt3-13b", "gpt3-175b",
    "gopher-280b", "chinchilla-70b", "palm-540b",
    "llama-7b", "llama-13b", "llama-33b", "llama-65b",
    "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "llama-3.1-405b",
    "mistral-7b", "mixtral-8x7b", "mixtral-8x22b", "deepseek-v3", "qwen2.5-7b", "qwen2.5-72b",
    "falcon-180b", "bloom-176b", "opt-175b", "mt-nlg-530b", "megatron-1t", "mpt-7b", "mpt-30b",
]

# Models whose computed count is known to differ from the headline by more than 3%, with the reason
# (also written next to them in models.yaml) and the gap allowed.
KNOWN_GAPS = {
    # Transformer-XL relative position encoding: one d_model x d_model projection per layer that
    # ModelSpec does not represent (Gopher +21.5B, Chinchilla +5.4B).
    "gopher-280b": 0.09,
    "chinchilla-70b": 0.09,
}


def test_catalog_has_the_required_models():
    ids = model_ids()
    assert len(ids) >= 24
    missing = [m for m in REQUIRED_IDS if m not in ids]
    assert not missing, f"missing from models.yaml: {missing}"


def test_ids_are_stable_lowercase_and_aliases_unambiguous():
    entries = load_yaml("models.yaml")
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids)), "duplicate ids"
    seen: dict[str, str] = {}
    for e in entries:
        assert e["id"] == e["id"].lower() and " " not in e["id"] and "_" not in e["id"], e["id"]
        for alias in e.get("aliases", []) or []:
            key = alias.lower()
            assert key not in ids, f"alias {alias} of {e['id']} shadows an id"
            assert key not in seen, f"alias {alias} used by {seen.get(key)} and {e['id']}"
            seen[key] = e["id"]


@pytest.mark.parametrize("model_id", model_ids())
def test_every_catalog_model_is_sourced_and_near_its_published_count(model_id):
    m = get_model(model_id)
    assert isinstance(m, ModelSpec)
    assert len(m.source) > 20, "every model needs a source (paper / config.json repo)"
    assert m.params_published and m.params_published > 1e7
    assert m.max_seq_len >= 1024
    assert m.training_tokens is None or m.training_tokens > 1e10
    assert m.params_active <= m.params_total
    assert 0 < m.params_embedding < m.params_total
    tol = KNOWN_GAPS.get(model_id, 0.03)
    err = rel(m.params_total, m.params_published)
    assert err <= tol, f"{model_id}: {m.params_total:.4g} vs published {m.params_published:.4g} ({err:.1%})"


def test_known_gaps_are_real():
    """The allow-list must not hide a model that is actually within 3% (keep it honest)."""
    for model_id in KNOWN_GAPS:
        m = get_model(model_id)
        assert rel(m.params_total, m.params_published) > 0.03


def test_aliases_resolve_case_insensitively():
    assert get_model("gpt-3") is get_model("gpt3-175b")
    assert get_model("llama2-7b") is get_model("llama-2-7b")
    assert get_model("meta-llama/Llama-2-7b-hf") is get_model("llama-2-7b")
    assert get_model("LLAMA-3-70B") is get_model("llama-3-70b")
    assert get_model("deepseek-ai/DeepSeek-V3") is get_model("deepseek-v3")
    assert resolve_model("mixtral") is get_model("mixtral-8x7b")


def test_unknown_model_names_close_matches():
    with pytest.raises(FlopwiseError, match="llama-2-7b"):
        get_model("llama-2-7")


# ---- published counts: catalog ------------------------------------------------------------------


def test_llama2_7b_published_count():
    m = get_model("llama-2-7b")
    assert rel(m.params_total, 6.74e9) < 0.005
    assert m.params_total == 6_738_415_616  # safetensors of meta-llama/Llama-2-7b-hf


def test_llama3_70b_published_count():
    m = get_model("llama-3-70b")
    assert rel(m.params_total, 70.55e9) < 0.005
    assert m.params_total == 70_553_706_496
    assert m.kv_heads == 8 and m.hd == 128


def test_llama3_8b_and_405b():
    assert get_model("llama-3-8b").params_total == 8_030_261_248
    assert rel(get_model("llama-3.1-405b").params_total, 405e9) < 0.005


def test_mixtral_8x7b_total_and_active():
    m = get_model("mixtral-8x7b")
    assert m.is_moe
    assert rel(m.params_total, 46.7e9) < 0.01
    assert rel(m.params_active, 12.9e9) < 0.01


def test_mixtral_8x22b_total_and_active():
    m = get_model("mixtral-8x22b")
    assert rel(m.params_total, 141e9) < 0.01
    assert rel(m.params_active, 39e9) < 0.01


def test_gpt3_175b():
    m = get_model("gpt3-175b")
    assert rel(m.params_total, 175e9) < 0.01
    assert m.learned_pos_emb and m.tied_embeddings and m.mlp == "gelu" and m.norm == "layernorm"
    assert m.vocab_size == 50257 and m.max_seq_len == 2048


def test_gpt3_family_is_monotonic():
    sizes = ["gpt3-125m", "gpt3-350m", "gpt3-760m", "gpt3-1.3b", "gpt3-2.7b", "gpt3-6.7b", "gpt3-13b", "gpt3-175b"]
    counts = [get_model(s).params_total for s in sizes]
    assert counts == sorted(counts)


def test_deepseek_v3_total_and_active():
    m = get_model("deepseek-v3")
    assert m.is_mla and m.is_moe
    assert m.n_dense_layers == 3 and m.n_moe_layers == 58
    assert rel(m.params_total, 671e9) < 0.03
    assert rel(m.params_active, 37e9) < 0.03
    # The published per-tensor table (README_WEIGHTS of deepseek-ai/DeepSeek-V3) sums to
    # 671,026,419,200 including 58 x 256 expert score-correction biases that ModelSpec does not hold.
    assert m.params_total == 671_026_419_200 - 58 * 256


def test_palm_540b_shape():
    m = get_model("palm-540b")
    assert rel(m.params_total, 540e9) < 0.01
    assert (m.kv_heads, m.hd, m.n_heads, m.d_model, m.ffn_hidden) == (1, 256, 48, 18432, 73728)
    assert m.tied_embeddings and m.parallel_attn_mlp and not (m.attn_bias or m.mlp_bias)


def test_bloom_exact_checkpoint_count():
    # Model card: 176,247,271,424 parameters, 3,596,615,680 of them embeddings; the one LayerNorm on
    # the embeddings (2 * 14336) is not represented.
    m = get_model("bloom-176b")
    assert m.params_embedding == 3_596_615_680
    assert m.params_total == 176_247_271_424 - 2 * 14336


def test_megatron_1t():
    m = get_model("megatron-1t")
    assert (m.n_layers, m.d_model, m.n_heads, m.vocab_size) == (128, 25600, 160, 51200)
    assert rel(m.params_total, 1.008e12) < 0.005


def test_qwen_tying_and_bias():
    for mid in ("qwen2.5-7b", "qwen2.5-72b"):
        m = get_model(mid)
        assert m.qkv_bias and not m.attn_bias and not m.tied_embeddings


# ---- published counts: Hugging Face config.json ------------------------------------------------


def test_hf_llama2_7b_equals_catalog():
    h, c = hf("Llama-2-7b-hf"), get_model("llama-2-7b")
    assert h.name == "meta-llama/Llama-2-7b-hf"
    assert h.params_total == c.params_total == 6_738_415_616
    assert h.params_active == c.params_active
    assert h.params_embedding == c.params_embedding
    assert h.non_embedding_params() == c.non_embedding_params()
    assert h.attention_params() == c.attention_params()
    assert (h.n_layers, h.d_model, h.n_heads, h.kv_heads, h.ffn_hidden, h.vocab_size, h.max_seq_len) == (
        c.n_layers, c.d_model, c.n_heads, c.kv_heads, c.ffn_hidden, c.vocab_size, c.max_seq_len)


@pytest.mark.parametrize(
    "fixture, catalog_id",
    [
        ("Meta-Llama-3-70B", "llama-3-70b"),
        ("Mixtral-8x7B-v0.1", "mixtral-8x7b"),
        ("Qwen2.5-7B", "qwen2.5-7b"),
        ("falcon-7b", "falcon-7b"),
        ("DeepSeek-V3", "deepseek-v3"),
    ],
)
def test_hf_config_matches_catalog(fixture, catalog_id):
    h, c = hf(fixture), get_model(catalog_id)
    assert h.params_total == c.params_total
    assert h.params_active == c.params_active
    assert h.kv_heads == c.kv_heads and h.hd == c.hd


def test_hf_llama3_70b():
    m = hf("Meta-Llama-3-70B")
    assert m.params_total == 70_553_706_496 and m.kv_heads == 8 and m.max_seq_len == 8192


def test_hf_mixtral():
    m = hf("Mixtral-8x7B-v0.1")
    assert (m.n_experts, m.experts_per_token) == (8, 2)
    assert rel(m.params_total, 46.7e9) < 0.01 and rel(m.params_active, 12.9e9) < 0.01


def test_hf_deepseek_v3():
    m = hf("DeepSeek-V3")
    assert m.family == "deepseek" and m.is_mla
    assert (m.q_lora_rank, m.kv_lora_rank, m.qk_nope_head_dim, m.qk_rope_head_dim, m.v_head_dim) == (1536, 512, 128, 64, 128)
    assert (m.n_experts, m.experts_per_token, m.n_shared_experts, m.n_dense_layers) == (256, 8, 1, 3)
    assert (m.ffn_hidden, m.dense_ffn_hidden) == (2048, 18432)
    assert rel(m.params_total, 671e9) < 0.03 and rel(m.params_active, 37e9) < 0.03


def test_hf_qwen25_7b():
    m = hf("Qwen2.5-7B")
    assert m.qkv_bias and not m.tied_embeddings
    assert rel(m.params_total, 7.61e9) < 0.005


def test_hf_gpt2_exact():
    m = hf("gpt2")
    assert m.params_total == 124_439_808  # GPT-2 small as loaded by transformers
    assert m.learned_pos_emb and m.tied_embeddings and m.max_seq_len == 1024 and m.ffn_hidden == 3072
    assert m.dropout  # resid/attn/embd_pdrop 0.1: its masks count in activation memory


def test_hf_dropout_only_when_a_probability_is_positive():
    assert not hf("Meta-Llama-3-70B").dropout and not hf("falcon-7b").dropout and not hf("pythia-1b").dropout


def test_hf_pythia_1b():
    m = hf("pythia-1b")
    assert m.family == "gpt-neox" and not m.tied_embeddings and m.parallel_attn_mlp
    # Pythia paper / checkpoint: 1,011,781,632. GPT-NeoX keeps two LayerNorms per layer even with its
    # parallel residual; ModelSpec counts one for parallel blocks (16 * 2 * 2048 fewer).
    assert m.params_total == 1_011_781_632 - 16 * 2 * 2048
    assert rel(m.params_total, 1_011_781_632) < 1e-4


def test_hf_falcon_7b_multi_query():
    m = hf("falcon-7b")
    assert m.kv_heads == 1 and m.hd == 64 and m.parallel_attn_mlp and m.tied_embeddings
    assert m.params_total == 6_921_720_704


# ---- bad input ----------------------------------------------------------------------------------


def test_malformed_json_is_one_line_error():
    with pytest.raises(FlopwiseError) as exc:
        resolve_model(str(HF / "malformed" / "config.json"))
    msg = str(exc.value)
    assert "not valid JSON" in msg and "malformed" in msg and "\n" not in msg


def test_missing_hidden_size_names_the_field():
    with pytest.raises(FlopwiseError) as exc:
        resolve_model(str(HF / "missing-hidden-size" / "config.json"))
    msg = str(exc.value)
    assert "'hidden_size'" in msg and "missing" in msg and "\n" not in msg


def test_resolve_model_accepts_a_fixture_directory():
    m = resolve_model(str(HF / "Llama-2-7b-hf"))
    assert m.params_total == get_model("llama-2-7b").params_total


def test_unsupported_model_type_lists_supported():
    with pytest.raises(FlopwiseError) as exc:
        model_from_hf_config({"model_type": "t5", "d_model": 512}, "t5-small")
    msg = str(exc.value)
    assert "t5" in msg and "\n" not in msg
    for mt in ("llama", "mixtral", "qwen2", "gpt2", "gpt_neox", "falcon", "deepseek_v3"):
        assert mt in msg


def test_missing_model_type():
    with pytest.raises(FlopwiseError, match="'model_type'"):
        model_from_hf_config({"hidden_size": 4096}, "x")


@pytest.mark.parametrize(
    "model_type, drop",
    [
        ("llama", "num_hidden_layers"),
        ("llama", "vocab_size"),
        ("mixtral", "num_local_experts"),
        ("deepseek_v3", "kv_lora_rank"),
        ("gpt2", "n_embd"),
    ],
)
def test_each_required_field_is_named(model_type, drop):
    source = {
        "llama": "Llama-2-7b-hf", "mixtral": "Mixtral-8x7B-v0.1", "deepseek_v3": "DeepSeek-V3", "gpt2": "gpt2",
    }[model_type]
    cfg = json.loads((HF / source / "config.json").read_text())
    model_from_hf_config(cfg, source)  # complete config parses
    del cfg[drop]
    with pytest.raises(FlopwiseError, match=f"'{drop}'"):
        model_from_hf_config(cfg, source)


@pytest.mark.parametrize("bad", ["4096", 0, -1, 4096.5, True, None])
def test_bad_field_values(bad):
    cfg = json.loads((HF / "Llama-2-7b-hf" / "config.json").read_text())
    cfg["hidden_size"] = bad
    with pytest.raises(FlopwiseError, match="'hidden_size'"):
        model_from_hf_config(cfg, "x")


def test_inconsistent_shapes_are_flopwise_errors():
    cfg = json.loads((HF / "Llama-2-7b-hf" / "config.json").read_text())
    cfg["num_key_value_heads"] = 5  # 32 heads are not a multiple of 5
    with pytest.raises(FlopwiseError) as exc:
        model_from_hf_config(cfg, "x")
    assert "\n" not in str(exc.value)


def test_name_falls_back_to_the_given_name():
    cfg = json.loads((HF / "Meta-Llama-3-70B" / "config.json").read_text())
    assert "_name_or_path" not in cfg
    assert model_from_hf_config(cfg, "meta-llama/Meta-Llama-3-70B").name == "meta-llama/Meta-Llama-3-70B"
    cfg["_name_or_path"] = "/home/me/checkpoints/llama"  # a local path is not a useful name
    assert model_from_hf_config(cfg, "llama-local").name == "llama-local"


def test_other_supported_types_parse():
    gptj = {"model_type": "gptj", "n_embd": 4096, "n_layer": 28, "n_head": 16, "vocab_size": 50400, "n_positions": 2048}
    m = model_from_hf_config(gptj, "EleutherAI/gpt-j-6b")
    # GPT-J-6B model card: 6,053,381,344 parameters (the output-head bias is not represented here).
    assert not m.attn_bias and m.mlp_bias and m.parallel_attn_mlp and not m.tied_embeddings
    assert rel(m.params_total, 6_053_381_344) < 0.001
    opt = {"model_type": "opt", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
           "ffn_dim": 3072, "vocab_size": 50272, "max_position_embeddings": 2048}
    assert rel(model_from_hf_config(opt, "facebook/opt-125m").params_total, 125e6) < 0.03
    falcon_new = {"model_type": "falcon", "hidden_size": 14848, "num_hidden_layers": 80, "num_attention_heads": 232,
                  "num_kv_heads": 8, "new_decoder_architecture": True, "vocab_size": 65024}
    m = model_from_hf_config(falcon_new, "tiiuae/falcon-180B")
    assert m.kv_heads == 8 and m.params_total == get_model("falcon-180b").params_total
    assert set(SUPPORTED_MODEL_TYPES) >= {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "gpt2", "gpt_neox",
                                           "gptj", "falcon", "deepseek_v2", "deepseek_v3", "opt", "phi3"}


def test_qwen2_moe_shared_expert():
    cfg = {"model_type": "qwen2_moe", "hidden_size": 3584, "num_hidden_layers": 28, "num_attention_heads": 28,
           "num_key_value_heads": 4, "intermediate_size": 18944, "moe_intermediate_size": 2560,
           "shared_expert_intermediate_size": 20480, "num_experts": 64, "num_experts_per_tok": 8,
           "vocab_size": 151936, "tie_word_embeddings": False}
    m = model_from_hf_config(cfg, "Qwen/Qwen2-57B-A14B")
    assert (m.n_experts, m.experts_per_token, m.n_shared_experts, m.shared_expert_hidden) == (64, 8, 1, 20480)
    assert rel(m.params_total, 57.4e9) < 0.01 and rel(m.params_active, 14.2e9) < 0.02


# ---- fetching from the Hub ----------------------------------------------------------------------


def test_fetch_failure_is_one_line(monkeypatch):
    import huggingface_hub

    def boom(repo_id, filename, **kw):
        raise OSError("Connection refused\nretry later")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", boom)
    monkeypatch.setattr(hf_config, "hub_reachable", lambda *a, **k: True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(FlopwiseError) as exc:
        fetch_hf_config("meta-llama/Llama-2-7b-hf")
    msg = str(exc.value)
    assert msg.startswith("cannot fetch config.json for meta-llama/Llama-2-7b-hf from the Hugging Face Hub")
    assert "pass a local config.json path instead" in msg and "\n" not in msg


def test_fetch_reads_the_downloaded_file(monkeypatch):
    import huggingface_hub

    calls = []

    def fake(repo_id, filename, **kw):
        calls.append((repo_id, filename, kw.get("local_files_only", False)))
        if kw.get("local_files_only"):
            raise FileNotFoundError("not in the cache")
        return str(HF / "Mixtral-8x7B-v0.1" / "config.json")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake)
    monkeypatch.setattr(hf_config, "hub_reachable", lambda *a, **k: True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    cfg = fetch_hf_config("mistralai/Mixtral-8x7B-v0.1")
    # the cache first (no network), then the download
    assert calls == [("mistralai/Mixtral-8x7B-v0.1", "config.json", True), ("mistralai/Mixtral-8x7B-v0.1", "config.json", False)]
    assert model_from_hf_config(cfg, "mistralai/Mixtral-8x7B-v0.1").params_total == get_model("mixtral-8x7b").params_total


def test_an_unreachable_hub_fails_at_once_and_a_cached_config_needs_no_network(monkeypatch):
    import time

    import huggingface_hub

    def not_cached(repo_id, filename, **kw):
        if kw.get("local_files_only"):
            raise FileNotFoundError("not in the cache")
        raise AssertionError("must not try the network when the Hub is unreachable")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", not_cached)
    monkeypatch.setattr(hf_config, "hub_reachable", lambda *a, **k: False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    t0 = time.perf_counter()
    with pytest.raises(FlopwiseError, match="not reachable.*pass a local config.json path instead"):
        fetch_hf_config("meta-llama/Llama-2-7b-hf")
    assert time.perf_counter() - t0 < 1.0

    def cached(repo_id, filename, **kw):
        assert kw.get("local_files_only"), "a cached config must not touch the network"
        return str(HF / "Llama-2-7b-hf" / "config.json")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", cached)
    assert fetch_hf_config("meta-llama/Llama-2-7b-hf")["model_type"] == "llama"


def test_module_exports():
    assert callable(hf_config.model_from_hf_config) and callable(hf_config.fetch_hf_config)
