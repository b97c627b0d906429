"""FLOPs of training and inference, split into dense matmuls, the LM head and attention.

Conventions (see docs/accuracy.md):
- Dense matmuls: 2 FLOPs per parameter per token forward, 4 backward (6·N for training), N = non-embedding
  parameters a token touches (MoE: active experts only).
- LM head (logits): 2·d_model·vocab forward per token, counted separately (Megatron counts it; Kaplan's 6N
  does not).
- Attention scores and weighted values: 4·n_layers·ctx·attn_dim forward per token over `ctx` keys. Causal
  attention over a sequence of length s touches s/2 keys on average, so the *real* work uses ctx = s/2;
  published MFU figures (PaLM, Megatron eq. 3, torchtitan, llm-foundry) count ctx = s. Both are exposed.
"""

from __future__ import annotations

from dataclasses import dataclass

from flopwise.spec.model import ModelSpec


def dense_matmul_params(model: ModelSpec) -> int:
    """Non-embedding parameters touched per token that sit in matmuls (norms excluded)."""
    norms = model.n_layers * model.norm_params() + model.final_norm_params()
    return model.non_embedding_params(active=True) - norms


def lm_head_params(model: ModelSpec) -> int:
    return model.vocab_size * model.d_model


def attention_fwd_flops_per_token(model: ModelSpec, seq_len: int, causal: bool = True) -> float:
    """Forward FLOPs of QK^T and AV per token for a sequence of `seq_len` tokens."""
    qk_dim = model.n_heads * model.hd
    ctx = seq_len / 2 if causal else seq_len
    return 2.0 * model.n_layers * ctx * (qk_dim + model.attn_dim)


@dataclass(frozen=True)
class FlopsBreakdown:
    """FLOPs split by where they are spent."""

    dense_flops: float
    lm_head_flops: float
    attention_flops: float

    @property
    def total_flops(self) -> float:
        return self.dense_flops + self.lm_head_flops + self.attention_flops

    def scaled(self, k: float) -> "FlopsBreakdown":
        return FlopsBreakdown(self.dense_flops * k, self.lm_head_flops * k, self.attention_flops * k)


def training_flops_per_token(model: ModelSpec, seq_len: int, causal: bool = True) -> FlopsBreakdown:
    """Model FLOPs (forward + backward, no recompute) per training token."""
    return FlopsBreakdown(
        dense_flops=6.0 * dense_matmul_params(model),
        lm_head_flops=6.0 * lm_head_params(model),
        attention_flops=3.0 * attention_fwd_flops_per_token(model, seq_len, causal),
    )


def training_flops(model: ModelSpec, tokens: float, seq_len: int | None = None, causal: bool = True) -> FlopsBreakdown:
    """Model FLOPs to train on `tokens` tokens at sequence length `seq_len` (default: the model's)."""
    return training_flops_per_token(model, seq_len or model.max_seq_len, causal).scaled(tokens)


def prefill_flops(model: ModelSpec, prompt_tokens: int) -> FlopsBreakdown:
    """Forward FLOPs to process a prompt of `prompt_tokens` (causal attention), logits for the last token only."""
    return FlopsBreakdown(
        dense_flops=2.0 * dense_matmul_params(model) * prompt_tokens,
        lm_head_flops=2.0 * lm_head_params(model),
        attention_flops=attention_fwd_flops_per_token(model, prompt_tokens, causal=True) * prompt_tokens,
    )


def decode_flops_per_token(model: ModelSpec, context: int) -> FlopsBreakdown:
    """Forward FLOPs to generate one token attending over `context` cached tokens."""
    return FlopsBreakdown(
        dense_flops=2.0 * dense_matmul_params(model),
        lm_head_flops=2.0 * lm_head_params(model),
        attention_flops=2.0 * model.n_layers * context * (model.n_heads * model.hd + model.attn_dim),
    )
