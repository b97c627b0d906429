"""Transformer architecture and the parameter counts that follow from it.

Counts are exact for the layer shapes described (attention projections, dense or MoE MLP, norms,
embeddings); they are what the FLOPs and memory estimates are built on.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


# Bounds far beyond any published model (the deepest has ~200 layers, the widest d_model ~25k): past them
# an input is a typo, and the planner's arrays would only waste minutes on it.
MAX_LAYERS = 10_000
MAX_WIDTH = 10_000_000
MAX_VOCAB = 100_000_000


class ModelSpec(BaseModel):
    """A decoder-only transformer (dense or mixture-of-experts)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    family: str = "custom"
    n_layers: int = Field(gt=0, le=MAX_LAYERS)
    d_model: int = Field(gt=0, le=MAX_WIDTH)
    n_heads: int = Field(gt=0, le=MAX_WIDTH)
    n_kv_heads: int | None = Field(default=None, gt=0, description="GQA/MQA key-value heads; None = n_heads")
    head_dim: int | None = Field(default=None, gt=0, description="None = d_model / n_heads")
    ffn_hidden: int = Field(gt=0, le=MAX_WIDTH, description="MLP inner size (per expert for MoE layers)")
    mlp: Literal["gelu", "swiglu"] = "swiglu"
    vocab_size: int = Field(gt=0, le=MAX_VOCAB)
    max_seq_len: int = Field(default=2048, gt=0)
    tied_embeddings: bool = False
    learned_pos_emb: bool = False
    norm: Literal["layernorm", "rmsnorm"] = "rmsnorm"
    attn_bias: bool = False
    qkv_bias: bool = False
    mlp_bias: bool = False
    parallel_attn_mlp: bool = False
    dropout: bool = Field(default=False, description="trained with dropout (GPT-2/3, Megatron GPT): its masks "
                          "are kept for backward; modern LLMs (Llama, Mistral, Qwen, DeepSeek, MPT, BLOOM) use none")
    # mixture of experts
    n_experts: int = Field(default=0, ge=0, description="routed experts per MoE layer (0 = dense)")
    experts_per_token: int = Field(default=0, ge=0)
    n_shared_experts: int = Field(default=0, ge=0)
    shared_expert_hidden: int | None = Field(default=None, gt=0, description="None = ffn_hidden")
    n_dense_layers: int = Field(default=0, ge=0, description="leading layers with a dense MLP in a MoE model")
    dense_ffn_hidden: int | None = Field(default=None, gt=0, description="MLP size of those dense layers")
    expert_groups: int = Field(default=0, ge=0, description="group-limited routing: the routed experts form this "
                               "many groups (DeepSeek n_group; 0 = no limit)")
    expert_groups_per_token: int = Field(default=0, ge=0, description="groups a token's experts may come from "
                                         "(DeepSeek topk_group: V3 sends a token to at most 4 of 8 nodes)")
    # multi-head latent attention (DeepSeek-V2/V3)
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    qk_nope_head_dim: int | None = None
    qk_rope_head_dim: int | None = None
    v_head_dim: int | None = None
    # provenance
    source: str = ""
    params_published: float | None = Field(default=None, description="headline parameter count, for reference")
    training_tokens: float | None = Field(default=None, description="tokens the released model was trained on")

    @model_validator(mode="after")
    def _check(self) -> "ModelSpec":
        if self.n_heads % self.kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.kv_heads})")
        if self.head_dim is None and not self.is_mla and self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) is not divisible by n_heads ({self.n_heads}); give head_dim")
        if self.n_experts and not (0 < self.experts_per_token <= self.n_experts):
            raise ValueError("experts_per_token must be between 1 and n_experts for a MoE model")
        if self.n_dense_layers > self.n_layers:
            raise ValueError("n_dense_layers exceeds n_layers")
        if self.expert_groups and (not self.n_experts or self.n_experts % self.expert_groups
                                   or not 0 < self.expert_groups_per_token <= self.expert_groups):
            raise ValueError("group-limited routing needs expert_groups dividing n_experts and "
                             "1 <= expert_groups_per_token <= expert_groups")
        return self

    # ---- shape helpers -------------------------------------------------
    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    @property
    def hd(self) -> int:
        """Head dimension of queries/keys (for MLA: nope + rope part)."""
        if self.is_mla:
            return (self.qk_nope_head_dim or 0) + (self.qk_rope_head_dim or 0)
        return self.head_dim or self.d_model // self.n_heads

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank is not None

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 0

    @property
    def n_moe_layers(self) -> int:
        return self.n_layers - self.n_dense_layers if self.is_moe else 0

    @property
    def attn_dim(self) -> int:
        """Width of the attention output (heads × value head dim)."""
        vd = self.v_head_dim if self.is_mla else self.hd
        return self.n_heads * vd

    # ---- parameter counts --------------------------------------------
    def attention_params(self) -> int:
        """Parameters of one attention block (projections and their biases)."""
        d, h = self.d_model, self.n_heads
        if self.is_mla:
            nope, rope = self.qk_nope_head_dim or 0, self.qk_rope_head_dim or 0
            vd, kvr = self.v_head_dim or 0, self.kv_lora_rank or 0
            if self.q_lora_rank:
                q = d * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * h * (nope + rope)
            else:
                q = d * h * (nope + rope)
            kv = d * (kvr + rope) + kvr + kvr * h * (nope + vd)
            return q + kv + h * vd * d
        q_out, kv_out = h * self.hd, self.kv_heads * self.hd
        p = d * q_out + 2 * d * kv_out + q_out * d
        if self.qkv_bias or self.attn_bias:
            p += q_out + 2 * kv_out
        if self.attn_bias:
            p += d
        return p

    def mlp_params(self, hidden: int) -> int:
        """Parameters of one dense MLP with inner size `hidden`."""
        mats = 3 if self.mlp == "swiglu" else 2
        p = mats * self.d_model * hidden
        if self.mlp_bias:
            p += hidden * (mats - 1) + self.d_model
        return p

    def norm_params(self) -> int:
        """Norm parameters in one layer (two norms, or one with parallel attention+MLP)."""
        per = self.d_model * (2 if self.norm == "layernorm" else 1)
        return per * (1 if self.parallel_attn_mlp else 2)

    def dense_layer_params(self) -> int:
        hidden = self.dense_ffn_hidden or self.ffn_hidden
        return self.attention_params() + self.mlp_params(hidden) + self.norm_params()

    def moe_layer_params(self, active: bool = False) -> int:
        """One MoE layer; `active` counts only the experts a token is routed to."""
        experts = self.experts_per_token if active else self.n_experts
        shared = self.n_shared_experts * self.mlp_params(self.shared_expert_hidden or self.ffn_hidden)
        router = self.d_model * self.n_experts
        return self.attention_params() + experts * self.mlp_params(self.ffn_hidden) + shared + router + self.norm_params()

    def embedding_params(self) -> int:
        """Input embedding (+ learned positions) and, when untied, the output projection."""
        p = self.vocab_size * self.d_model
        if self.learned_pos_emb:
            p += self.max_seq_len * self.d_model
        if not self.tied_embeddings:
            p += self.vocab_size * self.d_model
        return p

    def final_norm_params(self) -> int:
        return self.d_model * (2 if self.norm == "layernorm" else 1)

    def non_embedding_params(self, active: bool = False) -> int:
        """Parameters in the transformer layers (+ final norm); `active` = touched per token."""
        dense_layers = self.n_layers - self.n_moe_layers
        p = dense_layers * self.dense_layer_params() + self.final_norm_params()
        if self.is_moe:
            p += self.n_moe_layers * self.moe_layer_params(active=active)
        return p

    @property
    def params_total(self) -> int:
        return self.non_embedding_params() + self.embedding_params()

    @property
    def params_active(self) -> int:
        """Parameters used for one token (MoE: routed experts only)."""
        return self.non_embedding_params(active=True) + self.embedding_params()

    @property
    def params_embedding(self) -> int:
        return self.embedding_params()

    def params_per_layer(self) -> int:
        """Average parameters per transformer layer (used to split layers over pipeline stages)."""
        return (self.non_embedding_params() - self.final_norm_params()) // self.n_layers
