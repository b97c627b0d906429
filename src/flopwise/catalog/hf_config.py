"""Hugging Face config.json -> ModelSpec.

Each supported `model_type` maps its own field names onto ModelSpec; defaults follow the
corresponding `transformers` config class, so a config.json as published on the Hub (which omits
fields left at their default) parses to the architecture the Hub checkpoint really has.

Not represented (documented, small): DeepSeek's multi-token-prediction module
(`num_nextn_predict_layers`) and per-expert score-correction bias, Qwen2-MoE's shared-expert gate
(d_model parameters per layer), OPT's two extra position rows, and the second LayerNorm of
parallel blocks that have two (GPT-NeoX, Falcon new decoder architecture).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from flopwise.errors import FlopwiseError
from flopwise.spec.model import ModelSpec

_Cfg = dict[str, Any]


class _Reader:
    """Reads fields of one config.json, turning a missing or bad field into a one-line error."""

    def __init__(self, cfg: _Cfg, name: str, model_type: str):
        self.cfg, self.name, self.model_type = cfg, name, model_type

    def _fail(self, msg: str) -> FlopwiseError:
        return FlopwiseError(f"config.json for {self.name} (model_type '{self.model_type}'): {msg}")

    def _as_int(self, key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._fail(f"field '{key}' must be a positive integer, got {value!r}")
        if isinstance(value, float):
            if not value.is_integer():
                raise self._fail(f"field '{key}' must be a positive integer, got {value!r}")
            value = int(value)
        if value <= 0:
            raise self._fail(f"field '{key}' must be a positive integer, got {value!r}")
        return value

    def req(self, *keys: str) -> int:
        """A required positive integer, under the first of `keys` present (aliases, in order)."""
        for key in keys:
            if self.cfg.get(key) is not None:
                return self._as_int(key, self.cfg[key])
        also = f" (or {', '.join(repr(k) for k in keys[1:])})" if len(keys) > 1 else ""
        raise self._fail(f"missing required field '{keys[0]}'{also}")

    def opt(self, key: str, default: int | None) -> int | None:
        """An optional positive integer; absent or null gives `default`."""
        value = self.cfg.get(key)
        return default if value is None else self._as_int(key, value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.cfg.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(f"field '{key}' must be true or false, got {value!r}")
        return value


# ---- per model_type ---------------------------------------------------------------------------


def _llama_like(r: _Reader, *, max_pos_default: int, qkv_bias: bool = False, moe: bool = False) -> dict:
    d = r.req("hidden_size")
    fields: dict[str, Any] = dict(
        n_layers=r.req("num_hidden_layers"),
        d_model=d,
        n_heads=r.req("num_attention_heads"),
        n_kv_heads=r.opt("num_key_value_heads", None),
        head_dim=r.opt("head_dim", None),
        ffn_hidden=r.req("intermediate_size"),
        mlp="swiglu",
        vocab_size=r.req("vocab_size"),
        max_seq_len=r.opt("max_position_embeddings", max_pos_default),
        tied_embeddings=r.flag("tie_word_embeddings", False),
        norm="rmsnorm",
        attn_bias=r.flag("attention_bias", False),
        qkv_bias=qkv_bias,
        mlp_bias=r.flag("mlp_bias", False),
    )
    if moe:
        fields.update(n_experts=r.req("num_local_experts"), experts_per_token=r.opt("num_experts_per_tok", 2))
    return fields


def _llama(r: _Reader) -> dict:
    return _llama_like(r, max_pos_default=2048)


def _mistral(r: _Reader) -> dict:
    return _llama_like(r, max_pos_default=4096 * 32)


def _mixtral(r: _Reader) -> dict:
    return _llama_like(r, max_pos_default=4096 * 32, moe=True)


def _qwen2(r: _Reader) -> dict:
    # Qwen2 attention: q/k/v projections always carry a bias, the output projection none.
    return _llama_like(r, max_pos_default=32768, qkv_bias=True)


def _phi3(r: _Reader) -> dict:
    return _llama_like(r, max_pos_default=4096)


def _qwen2_moe(r: _Reader) -> dict:
    fields = _llama_like(r, max_pos_default=32768, qkv_bias=True)
    if r.opt("decoder_sparse_step", 1) != 1 or r.cfg.get("mlp_only_layers"):
        raise r._fail("decoder_sparse_step != 1 or mlp_only_layers (interleaved dense layers) is not supported")
    shared = r.opt("shared_expert_intermediate_size", None)
    fields.update(
        ffn_hidden=r.req("moe_intermediate_size"),
        n_experts=r.req("num_experts"),
        experts_per_token=r.req("num_experts_per_tok"),
        n_shared_experts=1 if shared else 0,
        shared_expert_hidden=shared,
    )
    return fields


def _gpt2_shape(r: _Reader) -> dict:
    """The fields GPT-2 and GPT-J configs spell alike (n_embd, n_layer, n_head, n_inner)."""
    d = r.req("n_embd", "hidden_size")
    return dict(
        n_layers=r.req("n_layer", "num_hidden_layers"),
        d_model=d,
        n_heads=r.req("n_head", "num_attention_heads"),
        ffn_hidden=r.opt("n_inner", None) or 4 * d,
        mlp="gelu",
        vocab_size=r.req("vocab_size"),
        norm="layernorm",
    )


def _gpt2(r: _Reader) -> dict:
    return dict(
        _gpt2_shape(r),
        max_seq_len=r.opt("n_positions", None) or r.opt("n_ctx", 1024),
        tied_embeddings=r.flag("tie_word_embeddings", True),
        learned_pos_emb=True,
        attn_bias=True,
        mlp_bias=True,
    )


def _gptj(r: _Reader) -> dict:
    # GPT-J: rotary positions, no attention biases, biased MLP, one LayerNorm feeding attention and
    # MLP in parallel, untied output head (its bias, vocab_size parameters, is not counted).
    return dict(
        _gpt2_shape(r),
        max_seq_len=r.opt("n_positions", 2048),
        tied_embeddings=r.flag("tie_word_embeddings", False),
        mlp_bias=True,
        parallel_attn_mlp=True,
    )


def _gpt_neox(r: _Reader) -> dict:
    return dict(
        n_layers=r.req("num_hidden_layers"),
        d_model=r.req("hidden_size"),
        n_heads=r.req("num_attention_heads"),
        ffn_hidden=r.req("intermediate_size"),
        mlp="gelu",
        vocab_size=r.req("vocab_size"),
        max_seq_len=r.opt("max_position_embeddings", 2048),
        tied_embeddings=r.flag("tie_word_embeddings", False),
        norm="layernorm",
        attn_bias=r.flag("attention_bias", True),
        mlp_bias=True,
        parallel_attn_mlp=r.flag("use_parallel_residual", True),
    )


def _falcon(r: _Reader) -> dict:
    d = r.req("hidden_size")
    heads = r.req("num_attention_heads", "n_head")
    new_arch = r.flag("new_decoder_architecture", r.model_type == "RefinedWeb")
    if new_arch:
        kv = r.opt("num_kv_heads", None) or r.opt("n_head_kv", heads)
    elif r.flag("multi_query", True):
        kv = 1
    else:
        kv = heads
    bias = r.flag("bias", False)
    return dict(
        n_layers=r.req("num_hidden_layers", "n_layer"),
        d_model=d,
        n_heads=heads,
        n_kv_heads=kv,
        ffn_hidden=r.opt("ffn_hidden_size", None) or 4 * d,
        mlp="gelu",
        vocab_size=r.req("vocab_size"),
        max_seq_len=r.opt("max_position_embeddings", 2048),
        tied_embeddings=r.flag("tie_word_embeddings", True),
        norm="layernorm",
        attn_bias=bias,
        mlp_bias=bias,
        parallel_attn_mlp=new_arch or r.flag("parallel_attn", True),
    )


def _deepseek(r: _Reader) -> dict:
    d = r.req("hidden_size")
    fields: dict[str, Any] = dict(
        n_layers=r.req("num_hidden_layers"),
        d_model=d,
        n_heads=r.req("num_attention_heads"),
        vocab_size=r.req("vocab_size"),
        max_seq_len=r.opt("max_position_embeddings", 2048),
        tied_embeddings=r.flag("tie_word_embeddings", False),
        mlp="swiglu",
        norm="rmsnorm",
        attn_bias=r.flag("attention_bias", False),
        q_lora_rank=r.opt("q_lora_rank", None),
        kv_lora_rank=r.req("kv_lora_rank"),
        qk_nope_head_dim=r.req("qk_nope_head_dim"),
        qk_rope_head_dim=r.req("qk_rope_head_dim"),
        v_head_dim=r.req("v_head_dim"),
    )
    dense_ffn = r.req("intermediate_size")
    experts = r.opt("n_routed_experts", None)
    if experts is None:
        fields.update(ffn_hidden=dense_ffn)
        return fields
    if r.opt("moe_layer_freq", 1) != 1:
        raise r._fail("moe_layer_freq != 1 (interleaved dense layers) is not supported")
    moe_ffn = r.req("moe_intermediate_size")
    shared = r.opt("n_shared_experts", None) or 0
    fields.update(
        ffn_hidden=moe_ffn,
        n_experts=experts,
        experts_per_token=r.req("num_experts_per_tok"),
        n_shared_experts=shared,
        shared_expert_hidden=moe_ffn if shared else None,
        n_dense_layers=r.opt("first_k_dense_replace", None) or 0,
        dense_ffn_hidden=dense_ffn,
    )
    groups, per_token = r.opt("n_group", None), r.opt("topk_group", None)
    if groups and per_token and groups > 1 and per_token < groups:
        fields.update(expert_groups=groups, expert_groups_per_token=per_token)
    return fields


def _opt(r: _Reader) -> dict:
    d = r.req("hidden_size")
    proj = r.opt("word_embed_proj_dim", d)
    if proj != d:
        raise r._fail(f"word_embed_proj_dim ({proj}) != hidden_size ({d}) (projected embeddings) is not supported")
    bias = r.flag("enable_bias", True)
    return dict(
        n_layers=r.req("num_hidden_layers"),
        d_model=d,
        n_heads=r.req("num_attention_heads"),
        ffn_hidden=r.req("ffn_dim"),
        mlp="gelu",  # ReLU; two matrices like GELU
        vocab_size=r.req("vocab_size"),
        max_seq_len=r.opt("max_position_embeddings", 2048),
        tied_embeddings=r.flag("tie_word_embeddings", True),
        learned_pos_emb=True,
        norm="layernorm",
        attn_bias=bias,
        mlp_bias=bias,
    )


_PARSERS: dict[str, tuple[str, Callable[[_Reader], dict]]] = {
    "llama": ("llama", _llama),
    "mistral": ("mistral", _mistral),
    "mixtral": ("mixtral", _mixtral),
    "qwen2": ("qwen2", _qwen2),
    "qwen2_moe": ("qwen2-moe", _qwen2_moe),
    "phi3": ("phi3", _phi3),
    "gpt2": ("gpt2", _gpt2),
    "gptj": ("gptj", _gptj),
    "gpt_neox": ("gpt-neox", _gpt_neox),
    "falcon": ("falcon", _falcon),
    "RefinedWeb": ("falcon", _falcon),  # pre-transformers-integration Falcon configs
    "RefinedWebModel": ("falcon", _falcon),
    "deepseek_v2": ("deepseek", _deepseek),
    "deepseek_v3": ("deepseek", _deepseek),
    "opt": ("opt", _opt),
}

SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(k for k in _PARSERS if not k.startswith("Refined"))


def _display_name(cfg: _Cfg, name: str) -> str:
    """`_name_or_path` when it names a Hub repo, else `name` (the caller's label for the file)."""
    nop = cfg.get("_name_or_path")
    if isinstance(nop, str) and nop.strip() and not nop.startswith(("/", ".", "~")) and "\\" not in nop:
        return nop.strip()
    return name or (nop if isinstance(nop, str) and nop else "config.json")


DROPOUT_KEYS = ("resid_pdrop", "attn_pdrop", "embd_pdrop", "hidden_dropout", "attention_dropout",
                "hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout_prob")


def _trains_with_dropout(cfg: _Cfg) -> bool:
    """Whether any dropout probability in the config is positive (GPT-2/J/OPT set them; Llama sets 0)."""
    for key in DROPOUT_KEYS:
        v = cfg.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
            return True
    return False


def model_from_hf_config(cfg: dict, name: str) -> ModelSpec:
    """A ModelSpec from a parsed Hugging Face config.json; bad input is a one-line FlopwiseError."""
    if not isinstance(cfg, dict):
        raise FlopwiseError(f"config.json for {name}: expected a JSON object, got {type(cfg).__name__}")
    label = _display_name(cfg, name)
    model_type = cfg.get("model_type")
    supported = ", ".join(SUPPORTED_MODEL_TYPES)
    if not model_type:
        raise FlopwiseError(f"config.json for {label}: missing required field 'model_type'; supported model_types: {supported}")
    if model_type not in _PARSERS:
        raise FlopwiseError(f"config.json for {label}: unsupported model_type '{model_type}'; supported model_types: {supported}")
    family, parse = _PARSERS[model_type]
    fields = parse(_Reader(cfg, label, model_type))
    fields = {k: v for k, v in fields.items() if v is not None}
    fields.setdefault("dropout", _trains_with_dropout(cfg))
    fields.update(name=label, family=family, source=f"Hugging Face config.json ({label})")
    try:
        return ModelSpec(**fields)
    except ValidationError as exc:
        from flopwise.catalog.models import pydantic_message

        raise FlopwiseError(pydantic_message(exc, f"config.json for {label}")) from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


HUB_PROBE_TIMEOUT_S = 3.0


def hub_reachable(timeout_s: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """Whether the Hub's host answers a TCP connect quickly. Skipped (True) behind a proxy, where a
    direct connect says nothing; offline machines otherwise wait through huggingface_hub's retries."""
    import os
    import socket
    from urllib.parse import urlparse

    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def fetch_hf_config(repo_id: str) -> dict:
    """config.json of a Hub repository: from the local Hugging Face cache when it has it (no network),
    else downloaded; an unreachable Hub fails at once with one line."""
    import logging
    import os

    import huggingface_hub

    download = huggingface_hub.hf_hub_download  # resolve (lazy import) first: that configures its logger
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)  # its per-retry warnings would break the one-line contract
    try:
        try:
            path = download(repo_id, "config.json", local_files_only=True)
        except Exception:  # not cached (or an old cache layout): go to the network
            if os.environ.get("HF_HUB_OFFLINE", "").lower() not in ("", "0", "false", "no") or not hub_reachable():
                raise ConnectionError("the Hub is not reachable from this machine (offline)") from None
            path = download(repo_id, "config.json")
        with open(path, encoding="utf-8") as fh:
            cfg = json.load(fh)
    except json.JSONDecodeError as exc:
        raise FlopwiseError(f"config.json for {repo_id} from the Hugging Face Hub is not valid JSON: {exc.msg}") from None
    except Exception as exc:  # any network / HTTP / auth / validation failure of the download
        raise FlopwiseError(
            f"cannot fetch config.json for {repo_id} from the Hugging Face Hub: {type(exc).__name__}: "
            f"{_one_line(exc)[:300]}; pass a local config.json path instead"
        ) from None
    finally:
        hub_logger.setLevel(level)
    if not isinstance(cfg, dict):
        raise FlopwiseError(f"config.json for {repo_id} from the Hugging Face Hub is not a JSON object")
    return cfg
