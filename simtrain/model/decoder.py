"""The decoder-only transformer family (GPT, OPT, BLOOM, Llama, Mixtral): a model from a handful of sizes.

``gpt:layers=L,hidden=H,heads=A,seq=S,vocab=V[,key=value ...]`` names a model wherever a model name is accepted,
and a catalog model whose file has a ``decoder:`` section takes the same keys as overrides (``llama3-405b:seq=8192``).
Keys (defaults in brackets):

* ``layers``, ``hidden``, ``heads``, ``seq``, ``vocab``: depth, width, attention heads, sequence length, vocabulary
* ``ffn`` [4·hidden; 8·hidden/3 rounded up to a multiple of 256 when gated]: the MLP's inner width
* ``kv_heads`` [heads]: key/value heads (grouped-query attention when fewer than ``heads``)
* ``head_dim`` [hidden / heads]
* ``gated`` [false]: SwiGLU MLP (gate and up projections, then down), RMSNorm and no biases (Llama style);
  otherwise a GELU MLP, LayerNorm and biases on every linear layer (GPT style)
* ``attention_bias`` [all; none when gated]: biases of the attention's projections: ``none``, ``qkv`` (the
  query/key/value projection only: Qwen) or ``all`` (and the output projection: GPT, InternLM's flash-attn layers)
* ``gate_up`` [fused]: a gated MLP's gate and up projections as one weight and GEMM (``fused``: Megatron-LM's
  ``linear_fc1``) or two (``split``: Hugging Face's ``gate_proj`` and ``up_proj``, InternLM's ``w1`` and ``w3``);
  the same parameters and FLOPs, more tensors (what per-tensor work counts) and narrower GEMMs; dense models only
  (an expert's gate and up are priced fused)
* ``positions`` [learned; rotary when gated]: ``learned`` (a table of ``seq`` positions), ``rotary`` or ``alibi``
  (no parameters); ``position_table`` [seq] sizes the learned table (OPT's is seq + 2)
* ``tied`` [true; false when gated]: the output head reuses the token embedding
* ``embedding_norm`` [false]: a LayerNorm after the embedding (BLOOM)
* ``experts`` [0: dense], ``top_k`` [2], ``moe_ffn`` [ffn], ``shared_experts`` [0], ``moe_every`` [1]: a
  mixture-of-experts MLP in every ``moe_every``-th layer, with a router (hidden × experts, no bias)
* ``dropout`` [0]: when above 0, the dropout kernels Megatron-LM runs (its default is 0.1 for attention and hidden
  dropout): one over the attention probabilities (heads × seq × seq per sample) and a fused bias-dropout-add after
  each of the two residual branches; they cost memory-bandwidth time, no FLOPs and no parameters
* ``attention`` [math]: how the core attention runs. ``math``: unfused, as Megatron-LM's default kernels (Q·Kᵀ and
  P·V as batched GEMMs over the whole s × s scores, the softmax and its gradient as passes over them, the scores
  kept for backward). ``flash``: one fused kernel (FlashAttention-2/3, cuDNN's fused attention, Megatron-core's
  Transformer Engine backend): the scores never leave on-chip memory, causal blocks above the diagonal are
  skipped, backward recomputes the scores, and only the softmax's log-sum-exp (fp32, one per head and query) is
  kept; the probabilities' dropout runs inside the kernel. The model's FLOPs (MFU) do not change: they count the
  model, not the kernel
* ``kernels`` [fused]: how the element-wise work runs. ``fused``: Megatron-LM's kernels (one scale-mask-softmax
  pass over the scores, bias-GELU in one pass). ``eager``: PyTorch eager as Hugging Face Transformers' GPT-2 runs
  it (the ``eager`` attention of modeling_gpt2.py, before SDPA; ``NewGELUActivation``), under autocast in fp16 and
  bf16: the scores go through a scale, the causal mask, the padding mask (promoted to fp32), an fp32 softmax and
  a cast back, each its own kernel, the tanh GELU is eight kernels forward and eleven backward, the residual
  stream is fp32 (LayerNorm on autocast's fp32 list, its output cast for the next GEMM) and dropout-then-add two
  kernels (docs/compute-model.md, "Eager kernels"). ``eager-half``: the same code on a model cast to the half type
  (DeepSpeed's fp16): the same kernels at the half width, without the fp32 softmax, stream and casts. With a
  fused kernel (``attention=flash``, ``flash1`` or ``flash2``) no scores exist: only the element-wise layers
  differ. A gated model's eager kernels are torchtitan's Llama code: RMSNorm through fp32 (eight kernels forward,
  sixteen backward), rotary embeddings through complex fp32, ``repeat_kv``'s copies under grouped-query attention,
  SwiGLU as two kernels (both eager styles alike: the code casts to fp32 itself). A rotary model's rotation is a
  layer of its own (fused: one kernel)
* ``softmax`` [as ``kernels``]: the kernels over an unfused attention's scores alone (``attention=math``), in the
  styles of ``kernels``, where code fuses the rest but not the softmax: Megatron-LM of 2019 and DeepSpeedExamples'
  Megatron-LM of 2020 ran the scale, the causal mask and torch's softmax as separate kernels on a model cast to
  fp16 (``softmax=eager-half``) beside Apex's fused LayerNorm and a TorchScript-fused GELU

Parameter counts follow the reference implementations (Hugging Face transformers, Megatron-LM): tested against the
published counts of the catalog entries. Multiply-adds per token: every linear layer's weights, attention's two
matmuls over the whole sequence (as Megatron-LM's FLOP formula counts them, causal masking not subtracted), the
top-k experts of a MoE layer.

Examples
--------
>>> spec = load_decoder("gpt:layers=2,hidden=64,heads=4,seq=32,vocab=100")
>>> spec.config.ffn, spec.num_params
(256, 108544)
>>> load_decoder("gpt:layers=2,hidden=64,heads=5,seq=32,vocab=100")
Traceback (most recent call last):
...
simtrain.errors.ConfigError: model gpt:layers=2,hidden=64,heads=5,seq=32,vocab=100: heads: must divide hidden 64 \
(got 5)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simtrain.errors import ConfigError
from simtrain.limits import MAX_DECODER_LAYERS, MAX_EXPERT_SETS, MAX_EXPERTS, MAX_WIDTH
from simtrain.model.spec import Layer, ModelSpec, Tensor
from simtrain.params import REQUIRED, Param, read_params
from simtrain.registry import parse_spec

__all__ = ["ATTENTION_KERNELS", "ATTENTION_KINDS", "CORE_ATTENTION_KINDS", "DECODER_PARAMS", "EAGER_ATTENTION",
           "KERNEL_STYLES", "DecoderConfig", "DecoderSpec", "block_layers",
           "decoder_from_config", "is_core_attention", "is_decoder_name", "load_decoder"]

#: The family's name prefix.
PREFIX = "gpt"

#: Core attention kernels (the ``attention`` key): unfused; fused, as the framework runs it on the GPU (FlashAttention-2
#: before Hopper, Transformer Engine's cuDNN attention on Hopper); or FlashAttention-2 itself
#: (PyTorch's scaled_dot_product_attention, the flash-attn 2 package) on any GPU.
ATTENTION_KERNELS = ("math", "flash", "flash1", "flash2")
#: Layer kind of the core attention per kernel (the compute model prices them differently).
ATTENTION_KINDS = {"math": "attention", "flash": "flash_attention", "flash1": "flash1_attention",
                   "flash2": "flash2_attention"}
#: How the element-wise work around the GEMMs runs (the ``kernels`` key): ``fused``, Megatron-LM's fused kernels
#: (scale-mask-softmax, bias-GELU, bias-dropout-add); ``eager``, PyTorch eager as Hugging Face Transformers' GPT-2
#: runs it (modeling_gpt2.py's eager attention and NewGELUActivation) under autocast (fp16 and bf16 AMP: the softmax
#: in fp32); ``eager-half``, the same code on a model cast to the half type (DeepSpeed's and Apex O2's fp16: no
#: autocast, the softmax in the half type).
KERNEL_STYLES = ("fused", "eager", "eager-half")
#: Layer kind of an unfused core attention whose scores go through eager PyTorch's separate kernels, per style.
EAGER_ATTENTION = {"eager": "eager_attention", "eager-half": "eager_half_attention"}
#: Every layer kind of a core attention.
CORE_ATTENTION_KINDS = frozenset({*ATTENTION_KINDS.values(), *EAGER_ATTENTION.values()})

#: The keys of a decoder, as parameters (validated as every plugin's parameters are).
DECODER_PARAMS: tuple[Param, ...] = (
    Param("layers", "integer", REQUIRED, "transformer layers", minimum=1, maximum=MAX_DECODER_LAYERS),
    Param("hidden", "integer", REQUIRED, "hidden width", minimum=1, maximum=MAX_WIDTH),
    Param("heads", "integer", REQUIRED, "attention heads", minimum=1, maximum=MAX_WIDTH),
    Param("seq", "integer", REQUIRED, "sequence length (tokens per sample)", minimum=1, maximum=MAX_WIDTH),
    Param("vocab", "integer", REQUIRED, "vocabulary size", minimum=1, maximum=MAX_WIDTH),
    Param("ffn", "integer", None, "MLP inner width (default 4·hidden, or 8·hidden/3 rounded up to 256 if gated)",
          minimum=1, maximum=MAX_WIDTH),
    Param("kv_heads", "integer", None, "key/value heads (default: heads)", minimum=1, maximum=MAX_WIDTH),
    Param("head_dim", "integer", None, "width of one head (default hidden/heads)", minimum=1, maximum=MAX_WIDTH),
    Param("gated", "boolean", False, "SwiGLU MLP, RMSNorm, no biases (Llama style)"),
    Param("attention_bias", "choice", None, "biases of the attention projections: none, qkv (the query/key/value "
          "projection only, Qwen) or all (and the output projection) (default all; none when gated)",
          choices=("none", "qkv", "all")),
    Param("gate_up", "choice", "fused", "a gated MLP's gate and up projections: fused (one weight and GEMM, "
          "Megatron-LM's linear_fc1) or split (two: Hugging Face's gate_proj and up_proj)",
          choices=("fused", "split")),
    Param("positions", "choice", None, "position encoding (default learned; rotary when gated)",
          choices=("learned", "rotary", "alibi")),
    Param("position_table", "integer", None, "rows of a learned position table (default seq)", minimum=1,
          maximum=MAX_WIDTH),
    Param("tied", "boolean", None, "output head reuses the token embedding (default true; false when gated)"),
    Param("embedding_norm", "boolean", False, "a LayerNorm after the token embedding (BLOOM)"),
    Param("experts", "integer", 0, "experts per MoE layer (0: a dense MLP)", minimum=0, maximum=MAX_EXPERTS),
    Param("top_k", "integer", 2, "experts each token is routed to", minimum=1, maximum=MAX_WIDTH),
    Param("moe_ffn", "integer", None, "inner width of one expert (default ffn)", minimum=1, maximum=MAX_WIDTH),
    Param("shared_experts", "integer", 0, "experts every token passes through besides its top-k", minimum=0,
          maximum=MAX_EXPERTS),
    Param("moe_every", "integer", 1, "every how many layers the MLP is a MoE layer", minimum=1, maximum=MAX_WIDTH),
    Param("dropout", "number", 0.0, "dropout probability of the attention scores and of the two residual branches "
          "(Megatron-LM's default 0.1; 0: no dropout kernels)", minimum=0.0, maximum=1.0),
    Param("attention", "choice", "math", "core attention kernel: math (unfused GEMMs and softmax over the s x s "
          "scores), flash (fused, FlashAttention-style: no s x s tensor, backward recomputes; the framework's kernel "
          "for the GPU, Transformer Engine's cuDNN attention on Hopper), flash1 (FlashAttention's first version, "
          "the flash-attn 1.x package) or flash2 (FlashAttention-2 on any GPU: PyTorch SDPA)",
          choices=ATTENTION_KERNELS),
    Param("softmax", "choice", None, "kernels over the attention scores alone (attention=math): fused, eager or "
          "eager-half as for kernels (default: as kernels); e.g. eager-half for 2019-2020 Megatron-LM code, which "
          "fused the rest but ran scale, mask and softmax as separate kernels on an fp16 model",
          choices=("fused", "eager", "eager-half")),
    Param("kernels", "choice", "fused", "element-wise kernels: fused (Megatron-LM's: scale-mask-softmax, bias-GELU), "
          "eager (PyTorch eager as Hugging Face's GPT-2 runs it under autocast: scale, causal mask, padding mask, "
          "fp32 softmax and a cast as separate kernels over the s x s scores; the tanh GELU as eight kernels; "
          "gated models as torchtitan's Llama code: RMSNorm and rotary through fp32, repeat_kv, SwiGLU) or "
          "eager-half (the same on a model cast to fp16, as DeepSpeed's fp16 runs it: no fp32 softmax, no casts)",
          choices=KERNEL_STYLES),
)


@dataclass(frozen=True)
class DecoderConfig:
    """The sizes of a decoder, defaults resolved.

    Examples
    --------
    >>> c = DecoderConfig.from_mapping({"layers": 32, "hidden": 4096, "heads": 32, "seq": 4096, "vocab": 32000,
    ...                                 "gated": True, "ffn": 11008})
    >>> c.tied, c.positions, c.kv_dim
    (False, 'rotary', 4096)
    """

    layers: int
    hidden: int
    heads: int
    seq: int
    vocab: int
    ffn: int
    kv_heads: int
    head_dim: int
    gated: bool
    positions: str
    position_table: int
    tied: bool
    embedding_norm: bool
    experts: int
    top_k: int
    moe_ffn: int
    shared_experts: int
    moe_every: int
    dropout: float = 0.0
    attention: str = "math"
    kernels: str = "fused"
    softmax: str | None = None   # the scores' kernels where they differ from ``kernels`` (None: as ``kernels``)
    attention_bias: str = "all"   # "none", "qkv" or "all" (from_mapping: none when gated)
    gate_up: str = "fused"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str | None = None, path: str = "") -> DecoderConfig:
        """Validate the keys of a decoder and fill in the defaults."""
        v = read_params(DECODER_PARAMS, dict(values), source=source, path=path)
        hidden, heads, gated = v["hidden"], v["heads"], v["gated"]
        head_dim = v["head_dim"]
        if head_dim is None:
            if hidden % heads:
                raise ConfigError(f"must divide hidden {hidden}", source=source, key="heads", value=heads)
            head_dim = hidden // heads
        kv_heads = v["kv_heads"] or heads
        if heads % kv_heads:
            raise ConfigError(f"must divide heads {heads}", source=source, key="kv_heads", value=kv_heads)
        ffn = v["ffn"] or (-(-8 * hidden // 3 // 256) * 256 if gated else 4 * hidden)
        experts = v["experts"]
        if not experts:   # a dense MLP reads none of the MoE keys: one given is a mistake, not a no-op
            defaults = {**{p.name: p.default for p in DECODER_PARAMS}, "moe_ffn": ffn}   # a catalog entry's is ffn
            for key in ("top_k", "moe_ffn", "shared_experts", "moe_every"):
                if values.get(key) is not None and v[key] != defaults[key]:
                    raise ConfigError("needs a mixture-of-experts model (experts >= 1)", source=source, key=key,
                                      value=values[key])
        if experts and v["top_k"] > experts:
            given = "" if values.get("top_k") is not None else " (top_k's default)"
            raise ConfigError(f"must be at most experts ({experts}){given}", source=source, key="top_k",
                              value=v["top_k"])
        if experts and v["moe_every"] > v["layers"]:
            raise ConfigError(f"leaves none of the {v['layers']} layers a mixture of experts", source=source,
                              key="moe_every", value=v["moe_every"], allowed=f"at most layers ({v['layers']})")
        moe_layers = v["layers"] // v["moe_every"] if experts else 0
        if moe_layers * experts > MAX_EXPERT_SETS:
            raise ConfigError(f"the model would hold {moe_layers:,} MoE layers x {experts:,} experts of weights; at "
                              f"most {MAX_EXPERT_SETS:,} expert weight sets in all",
                              source=source, key="experts", value=experts)
        softmax = v["softmax"]
        if softmax is not None and v["attention"] != "math":
            raise ConfigError(f"sets the kernels over the attention scores, and attention={v['attention']} keeps no "
                              "scores", source=source, key="softmax", value=softmax,
                              allowed="attention=math, or leave it out")
        if v["gate_up"] == "split" and not gated:
            raise ConfigError("splits a gated MLP's gate and up projections; gated=false has one up projection",
                              source=source, key="gate_up", value="split", allowed="gated=true, or leave it out")
        if v["gate_up"] == "split" and experts:
            # an expert's (and a shared expert's) gate and up are priced as one GEMM: split them only where it is
            raise ConfigError(f"splits a dense MLP's gate and up projections; the gate and up of its {experts} "
                              "experts are priced fused (split experts are not modelled)", source=source,
                              key="gate_up", value="split", allowed="a dense model (experts=0), or leave it out")
        positions = v["positions"] or ("rotary" if gated else "learned")
        table = v["position_table"]
        if table is not None and positions != "learned":   # rotary and alibi have no table to size
            raise ConfigError(f"sizes a learned position table; positions {positions} has none", source=source,
                              key="position_table", value=table, allowed="positions=learned, or leave it out")
        if positions == "learned" and table is not None and table < v["seq"]:
            raise ConfigError(f"a learned table of {table} positions cannot embed a sequence of {v['seq']} tokens",
                              source=source, key="position_table", value=table, allowed=f"at least seq ({v['seq']})")
        return cls(layers=v["layers"], hidden=hidden, heads=heads, seq=v["seq"], vocab=v["vocab"], ffn=ffn,
                   kv_heads=kv_heads, head_dim=head_dim, gated=gated, positions=positions,
                   position_table=v["position_table"] or v["seq"],
                   tied=(not gated) if v["tied"] is None else v["tied"], embedding_norm=v["embedding_norm"],
                   experts=experts, top_k=v["top_k"], moe_ffn=v["moe_ffn"] or ffn,
                   shared_experts=v["shared_experts"], moe_every=v["moe_every"], dropout=float(v["dropout"]),
                   attention=v["attention"], kernels=v["kernels"],
                   softmax=None if softmax == v["kernels"] else softmax,
                   attention_bias=v["attention_bias"] or ("none" if gated else "all"), gate_up=v["gate_up"])

    @property
    def score_kernels(self) -> str:
        """The kernels over an unfused attention's scores: ``softmax``, else ``kernels``."""
        return self.softmax or self.kernels

    @property
    def q_dim(self) -> int:
        """Width of the queries (heads × head_dim)."""
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of the keys (and of the values)."""
        return self.kv_heads * self.head_dim

    def is_moe(self, layer: int) -> bool:
        """Whether transformer layer ``layer`` (from 0) has a mixture-of-experts MLP."""
        return self.experts > 0 and (layer + 1) % self.moe_every == 0

    @property
    def moe_layers(self) -> int:
        """How many layers have a mixture-of-experts MLP."""
        return sum(self.is_moe(i) for i in range(self.layers))

    def describe(self) -> str:
        """``gpt:key=value,...`` with every key that differs from its default."""
        given = {k: getattr(self, k) for k in ("layers", "hidden", "heads", "seq", "vocab", "gated")}
        # heads that do not divide the width need their head_dim named (the default is hidden / heads)
        own_head_dim = self.head_dim * self.heads != self.hidden
        base = DecoderConfig.from_mapping({**given, "head_dim": self.head_dim} if own_head_dim else given)
        # the reference shares the gating, whose defaults (ffn, norms) follow it, so gated=true is named itself;
        # an expert's width defaults to this model's ffn, not the reference's
        keys = [f"{f.name}={_text(getattr(self, f.name))}" for f in dataclasses.fields(self)
                if f.name in ("layers", "hidden", "heads", "seq", "vocab")
                or (f.name == "head_dim" and own_head_dim)
                or (f.name == "gated" and self.gated)
                or (f.name == "moe_ffn" and self.moe_ffn != self.ffn)
                or (f.name not in ("gated", "moe_ffn") and getattr(self, f.name) != getattr(base, f.name))]
        return f"{PREFIX}:" + ",".join(keys)


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class DecoderSpec(ModelSpec):
    """A :class:`~simtrain.model.ModelSpec` of a decoder that also keeps its sizes (``config``), which the
    model-parallel planner (:mod:`simtrain.parallel`) shards."""

    config: DecoderConfig | None = None

    @property
    def transformer_layers(self) -> int:
        """Number of transformer layers."""
        assert self.config is not None
        return self.config.layers


def _norm(name: str, c: DecoderConfig, tokens: int, width: int) -> Layer:
    tensors = (Tensor(f"{name}.weight", (width,)),) if c.gated else \
        (Tensor(f"{name}.weight", (width,)), Tensor(f"{name}.bias", (width,)))
    # RMSNorm written out in eager code (fp32 casts, pow, mean, rsqrt, two products) is its own kind; eager
    # LayerNorm is one ATen kernel each way, as fused, but PyTorch's native one (its own kind: native bandwidth),
    # in fp32 under autocast (its fp32 list) on the fp32 residual stream, at the half width on a half model
    eager = c.kernels in EAGER_ATTENTION
    kind = ("rmsnorm_eager" if eager else "rmsnorm") if c.gated else _stream_kind("layernorm", c)
    return Layer(name, kind, tensors, 0.0, tokens * width, tokens * width)


def _stream_kind(kind: str, c: DecoderConfig, fused: str | None = None) -> str:
    """The kind of a layer on the residual stream of a LayerNorm model (``layernorm``, ``add``, ``dropout_add``)
    under ``c``'s kernels: ``fused`` (default ``kind``) for fused code and for a gated model, whose stream stays at
    the run's width (torchtitan's, under FSDP's bf16); eager as Hugging Face's code runs it, the stream in fp32 under
    autocast (``_eager``: the embeddings' fp32 output promotes every residual sum, LayerNorm is on autocast's fp32
    list) or at the half width on a model cast to it (``_eager_half``).

    Examples
    --------
    >>> c = DecoderConfig.from_mapping({"layers": 1, "hidden": 64, "heads": 4, "seq": 32, "vocab": 100})
    >>> [_stream_kind("add", dataclasses.replace(c, kernels=k)) for k in ("fused", "eager", "eager-half")]
    ['add', 'add_eager', 'add_eager_half']
    >>> _stream_kind("dropout_add", dataclasses.replace(c, kernels="eager", gated=True), fused="dropout")
    'dropout'
    """
    if c.kernels not in EAGER_ATTENTION or c.gated:
        return fused or kind
    return f"{kind}_eager" if c.kernels == "eager" else f"{kind}_eager_half"


def _linear(name: str, c: DecoderConfig, tokens: int, fan_in: int, fan_out: int, bias: bool | None = None,
            copies: int = 1, active: int | None = None) -> Layer:
    """A linear layer on ``tokens`` tokens; ``copies`` weight sets of which ``active`` run per token (experts)."""
    has_bias = (not c.gated) if bias is None else bias
    tensors: list[Tensor] = []
    for e in range(copies):
        prefix = f"{name}.{e}" if copies > 1 else name
        tensors.append(Tensor(f"{prefix}.weight", (fan_out, fan_in)))
        if has_bias:
            tensors.append(Tensor(f"{prefix}.bias", (fan_out,)))
    run = copies if active is None else active
    return Layer(name, "linear", tuple(tensors), float(tokens * fan_in * fan_out * run), tokens * fan_in * run,
                 tokens * fan_out * run, gemm=(tokens * run, fan_out, fan_in))


def block_layers(c: DecoderConfig, index: int = 0, tp: int = 1, cp: int = 1, sp: bool = False,
                 prefix: str = "") -> list[Layer]:
    """The layers of transformer layer ``index`` as one GPU of a tensor- (``tp``) and context-parallel (``cp``)
    group holds and computes them, per sample (a sample is ``seq / cp`` of the sequence's tokens on this GPU).

    Tensor parallelism splits heads, the MLP's inner width and the experts' inner width by ``tp`` (Megatron-LM's
    column/row split); with sequence parallelism (``sp``) the norms also run on ``1/tp`` of the tokens.
    ``tp = cp = 1`` gives the layer of the whole model.

    Examples
    --------
    >>> c = DecoderConfig.from_mapping({"layers": 1, "hidden": 64, "heads": 4, "seq": 32, "vocab": 100})
    >>> [layer.kind for layer in block_layers(c)]
    ['layernorm', 'linear', 'attention', 'linear', 'add', 'layernorm', 'linear', 'gelu', 'linear', 'add']
    >>> sum(l.num_params for l in block_layers(c, tp=2)) * 2 > sum(l.num_params for l in block_layers(c))
    True
    """
    name = f"{prefix}layers.{index}"
    tokens = c.seq // cp
    norm_tokens = tokens // tp if sp else tokens
    h = c.hidden
    q, kv = c.q_dim // tp, c.kv_dim // tp
    layers = [
        _norm(f"{name}.input_norm", c, norm_tokens, h),
        _linear(f"{name}.attention.qkv", c, tokens, h, q + 2 * kv, bias=c.attention_bias != "none"),
        *_position_layers(name, c, tokens, q, kv),
        # the two matmuls of attention: local queries against the whole sequence's keys (ring attention under cp)
        Layer(f"{name}.attention.core", _core_kind(c), (), float(2 * tokens * c.seq * q),
              tokens * (q + 2 * kv), tokens * q, gemm=(tokens, c.seq, q), groups=q // c.head_dim),
        _linear(f"{name}.attention.out", c, tokens, q, h, bias=c.attention_bias == "all"),
    ]
    if c.dropout:
        # Megatron-LM: dropout of the attention probabilities (inside the core attention, which selective
        # recomputation runs again), then a fused bias-dropout-add after the projection (on 1/tp of the tokens
        # under sequence parallelism); a fused attention kernel drops the probabilities on chip
        heads = q // c.head_dim
        if c.attention == "math":   # right after the core attention
            core = next(i for i, layer in enumerate(layers) if layer.kind in CORE_ATTENTION_KINDS)
            layers.insert(core + 1, Layer(f"{name}.attention.dropout", "dropout", (), 0.0, heads * tokens * c.seq,
                                          heads * tokens * c.seq))
        layers.append(_dropout_add(f"{name}.attention.dropout_add", c, norm_tokens, h))
    else:
        layers.append(_residual_add(f"{name}.attention.residual_add", c, norm_tokens, h))
    layers.append(_norm(f"{name}.post_attention_norm", c, norm_tokens, h))
    if c.is_moe(index):
        inner = c.moe_ffn // tp
        width = 2 * inner if c.gated else inner
        router = _linear(f"{name}.mlp.router", c, tokens, h, c.experts, bias=False)
        layers.append(dataclasses.replace(router, keep_precision=True))
        layers.append(_linear(f"{name}.mlp.experts.up", c, tokens, h, width, copies=c.experts, active=c.top_k))
        layers.append(Layer(f"{name}.mlp.experts.act", _activation_kind(c), (), 0.0,
                            tokens * width * c.top_k, tokens * inner * c.top_k))
        layers.append(_linear(f"{name}.mlp.experts.down", c, tokens, inner, h, copies=c.experts, active=c.top_k))
        if c.shared_experts:
            shared = c.shared_experts * inner
            layers.append(_linear(f"{name}.mlp.shared.up", c, tokens, h, 2 * shared if c.gated else shared))
            layers.append(_linear(f"{name}.mlp.shared.down", c, tokens, shared, h))
    else:
        inner = c.ffn // tp
        width = 2 * inner if c.gated else inner
        if c.gate_up == "split":
            layers.append(_linear(f"{name}.mlp.gate", c, tokens, h, inner))
            layers.append(_linear(f"{name}.mlp.up", c, tokens, h, inner))
        else:
            layers.append(_linear(f"{name}.mlp.up", c, tokens, h, width))
        layers.append(Layer(f"{name}.mlp.act", _activation_kind(c), (), 0.0, tokens * width,
                            tokens * inner))
        layers.append(_linear(f"{name}.mlp.down", c, tokens, inner, h))
    if c.dropout:
        layers.append(_dropout_add(f"{name}.mlp.dropout_add", c, norm_tokens, h))
    else:
        layers.append(_residual_add(f"{name}.mlp.residual_add", c, norm_tokens, h))
    return layers


def is_core_attention(layer: Layer) -> bool:
    """Whether ``layer`` belongs to the core attention (its two matmuls, the probabilities' dropout): what selective
    recomputation runs again (Korthikanti et al. 2022).

    Examples
    --------
    >>> c = DecoderConfig.from_mapping({"layers": 1, "hidden": 64, "heads": 4, "seq": 32, "vocab": 100,
    ...                                 "dropout": 0.1})
    >>> [layer.name for layer in block_layers(c) if is_core_attention(layer)]
    ['layers.0.attention.core', 'layers.0.attention.dropout']
    """
    return layer.kind in CORE_ATTENTION_KINDS or layer.name.endswith(".attention.dropout")


def _position_layers(name: str, c: DecoderConfig, tokens: int, q: int, kv: int) -> list[Layer]:
    """What runs between the QKV projection and the core attention: rotary embeddings' rotation of the queries
    and keys (a fused kernel, or eager code through complex fp32 numbers), and, in eager code with fewer key/value
    heads than heads, the copies that repeat the keys and values for every head (``repeat_kv``)."""
    layers = []
    eager = c.kernels in EAGER_ATTENTION
    if c.positions == "rotary":
        layers.append(Layer(f"{name}.attention.rotary", "rotary_eager" if eager else "rotary", (), 0.0,
                            tokens * (q + kv), tokens * (q + kv)))
    if eager and kv < q and kv // c.head_dim > 1:   # one key/value head: the expanded view is not copied
        layers.append(Layer(f"{name}.attention.repeat_kv", "repeat_kv", (), 0.0, 2 * tokens * kv, 2 * tokens * q))
    return layers


def _core_kind(c: DecoderConfig) -> str:
    """The core attention's layer kind: its kernel's, the eager one where eager kernels run it unfused."""
    if c.score_kernels in EAGER_ATTENTION and c.attention == "math":
        return EAGER_ATTENTION[c.score_kernels]
    return ATTENTION_KINDS[c.attention]


def _activation_kind(c: DecoderConfig) -> str:
    """The MLP's activation kind: SwiGLU's ``silu`` (one pass, gated models), else GELU, fused or eager (Hugging
    Face's NewGELUActivation: eight element-wise kernels)."""
    eager = c.kernels in EAGER_ATTENTION
    if c.gated:
        return "silu_eager" if eager else "silu"
    return {"eager": "gelu_eager", "eager-half": "gelu_eager_half"}.get(c.kernels, "gelu")


def _dropout_add(name: str, c: DecoderConfig, tokens: int, width: int) -> Layer:
    """Megatron-LM's fused bias-dropout-add on a residual branch: one element-wise kernel over the branch; in eager
    code (a LayerNorm model's ``kernels=eager`` or ``eager-half``) the dropout and the sum, two kernels
    (:func:`simtrain.compute.stream_bytes`)."""
    return Layer(name, _stream_kind("dropout_add", c, fused="dropout"), (), 0.0, tokens * width, tokens * width)


def _residual_add(name: str, c: DecoderConfig, tokens: int, width: int) -> Layer:
    """The residual sum after a branch without dropout (``h = x + branch(x)``, one kernel in every implementation:
    torchtitan's and Hugging Face's ``x + ...``, Megatron-core's bias-dropout-add at dropout 0): reads the stream
    and the branch, writes the sum (in fp32 on the fp32 stream of eager code under autocast)."""
    return Layer(name, _stream_kind("add", c), (), 0.0, 2 * tokens * width, tokens * width)


def embedding_layers(c: DecoderConfig, tp: int = 1, cp: int = 1) -> list[Layer]:
    """The input side: token embedding (vocabulary split by ``tp``), learned positions, the optional norm."""
    tokens = c.seq // cp
    layers = [Layer("embed_tokens", "embedding", (Tensor("embed_tokens.weight", (c.vocab // tp, c.hidden)),),
                    0.0, tokens, tokens * c.hidden)]
    if c.positions == "learned":
        layers.append(Layer("embed_positions", "embedding",
                            (Tensor("embed_positions.weight", (c.position_table, c.hidden)),), 0.0, tokens,
                            tokens * c.hidden))
    if c.embedding_norm:
        # a LayerNorm (weight and bias) whatever the model's gating; under autocast it feeds the fp32 stream, not a
        # GEMM, so no half copy is cast from it; a gated model's stream stays at the run's width
        norm = _norm("embed_norm", dataclasses.replace(c, gated=False), tokens, c.hidden)
        kind = {"layernorm_eager": "layernorm_eager_half" if c.gated else "embed_layernorm_eager"}.get(norm.kind,
                                                                                                        norm.kind)
        layers.append(dataclasses.replace(norm, kind=kind))
    return layers


def head_layers(c: DecoderConfig, tp: int = 1, cp: int = 1) -> list[Layer]:
    """The output side: the final norm, the language-model head (vocabulary split by ``tp``) and the loss, a
    cross entropy over the head's logits (``cross_entropy``: bandwidth-bound passes over them in fp32, priced by
    :class:`~simtrain.compute.ComputeModel`).

    Examples
    --------
    >>> c = DecoderConfig.from_mapping({"layers": 1, "hidden": 64, "heads": 4, "seq": 32, "vocab": 100})
    >>> [(layer.kind, layer.input_elements) for layer in head_layers(c, tp=2)][1:]
    [('linear', 2048), ('cross_entropy', 1600)]
    """
    tokens = c.seq // cp
    head = dataclasses.replace(_linear("lm_head", c, tokens, c.hidden, c.vocab // tp, bias=False), keep_precision=True)
    if c.tied:
        head = dataclasses.replace(head, tensors=(), tied_to="embed_tokens.weight")
    # the loss reads this GPU's share of the logits (Megatron-LM's vocab-parallel cross entropy) and gives one
    # value per token
    loss = Layer("loss", "cross_entropy", (), 0.0, tokens * (c.vocab // tp), tokens)
    return [_norm("final_norm", c, tokens, c.hidden), head, loss]


def decoder_from_config(c: DecoderConfig, name: str | None = None, description: str = "", reference: str = "",
                        source: str = "", published: Mapping[str, float] | None = None) -> DecoderSpec:
    """The :class:`DecoderSpec` of a configuration (layers in forward order, each reading the one before).

    Examples
    --------
    >>> c = DecoderConfig.from_mapping({"layers": 2, "hidden": 64, "heads": 4, "seq": 32, "vocab": 100})
    >>> len(decoder_from_config(c).layers)
    25
    """
    layers = embedding_layers(c)
    for index in range(c.layers):
        layers.extend(block_layers(c, index))
    layers.extend(head_layers(c))
    return DecoderSpec(name=name or c.describe(), layers=tuple(layers), input_shape=(c.seq,),
                       sample_name="sequence", reference=reference, description=description, source=source,
                       published=dict(published or {}), config=c)


def is_decoder_name(text: str) -> bool:
    """Whether a model name is a decoder spec (``gpt:...``) or a catalog name with overrides (``NAME:key=v``).

    Examples
    --------
    >>> is_decoder_name("gpt:layers=2"), is_decoder_name("llama3-8b:seq=4096"), is_decoder_name("a/b.yaml")
    (True, True, False)
    """
    head, sep, tail = text.partition(":")
    return bool(sep) and "/" not in head and "\\" not in head and (head == PREFIX or "=" in tail)


def load_decoder(text: str) -> DecoderSpec:
    """A decoder from ``gpt:key=value,...`` or a catalog decoder with overrides (``llama3-8b:seq=4096``).

    Examples
    --------
    >>> load_decoder("llama3-8b:seq=4096").config.seq
    4096
    >>> load_decoder("resnet50:seq=4")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: model: 'resnet50' is not a decoder, so it takes no overrides (got 'resnet50:seq=4')
    """
    source = f"model {text}"
    # the one spec grammar (simtrain.registry.parse_spec): a key given twice is an error, not the last one winning
    head, overrides = parse_spec(text, source=source, key="model")
    if head == PREFIX:
        return decoder_from_config(DecoderConfig.from_mapping(overrides, source=source), name=None)
    from simtrain.catalog import resolve
    from simtrain.config import load_yaml

    data = load_yaml(resolve("models", head))
    if not isinstance(data, Mapping) or "decoder" not in data:
        raise ConfigError(f"{head!r} is not a decoder, so it takes no overrides", key="model", value=text)
    base = decoder_from_dict(data, str(resolve("models", head)))
    assert base.config is not None
    # the file's own keys, not the config's derived ones: a derived value (the position table's seq, the MLP's
    # width) follows the overridden keys it derives from
    keys = dict(data["decoder"])
    keys.update(overrides)
    config = DecoderConfig.from_mapping(keys, source=source)
    # the published counts describe the unchanged model only
    published = base.published if config == base.config else {}
    return decoder_from_config(config, name=text, description=base.description, reference=base.reference,
                               source=base.source, published=published)


def decoder_from_dict(data: Mapping[str, Any], source: str) -> DecoderSpec:
    """A catalog file with a ``decoder:`` section (name, description, reference, published, decoder)."""
    from simtrain.config import Section

    top = Section(data, source)
    name = top.string("name")
    description = top.string("description", "")
    reference = top.string("reference", "")
    top.string("sample", "sequence")
    published: dict[str, float] = {}
    section = top.section("published", None)
    if section is not None:
        for key in list(section.data):
            published[key] = section.number(key, minimum=0)
    raw = top.raw("decoder")
    if not isinstance(raw, Mapping):
        raise top.error("decoder", "must be a mapping of decoder keys")
    top.finish()
    config = DecoderConfig.from_mapping(raw, source=source, path="decoder")
    return decoder_from_config(config, name=name, description=description, reference=reference, source=source,
                               published=published)
