"""Library-kit presets and the cutadapt commands they translate to.

Trimming runs in two streamed cutadapt passes, because cutadapt applies
``--cut`` (``-u``) *before* adapter removal while random or template-switch
bases sit at the insert ends, next to the adapter:

1. adapter pass: 3' quality trimming and removal of the 3' adapter (and the
   5' adapter where a kit has one); reads without adapter are discarded unless
   ``keep_untrimmed`` is set;
2. clip pass: the kit's fixed bases at the insert ends (NEXTflex 4N, CATS
   template-switch bases) are cut from the already adapter-free insert.

The length window is applied when identical inserts are collapsed, so that QC
sees the full insert-length histogram (dimers, too short, too long).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

TRUSEQ_3P = "TGGAATTCTCGGGTGCCAAGG"


@dataclass(frozen=True)
class Protocol:
    """How a library kit lays out a read: adapters and bases to clip from the insert."""

    name: str
    adapter_3p: str
    adapter_5p: str = ""
    clip_5p: int = 0  # bases cut from the insert's 5' end after adapter removal
    clip_3p: int = 0  # bases cut from the insert's 3' end after adapter removal
    umi_length: int = 0  # UMI right after the 3' adapter (QIAseq)
    description: str = ""
    extra_adapter_args: tuple[str, ...] = field(default=())


PRESETS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            "truseq",
            TRUSEQ_3P,
            description="Illumina TruSeq small RNA: 3' adapter TGGAATTCTCGGGTGCCAAGG.",
        ),
        Protocol(
            "illumina",
            TRUSEQ_3P,
            description="Alias of truseq.",
        ),
        Protocol(
            "illumina_v1",
            "TCGTATGCCGTCTTCTGCTTG",
            description="Illumina small RNA v1.0/v1.5: 3' adapter TCGTATGCCGTCTTCTGCTTG.",
        ),
        Protocol(
            "nextflex",
            TRUSEQ_3P,
            clip_5p=4,
            clip_3p=4,
            description="PerkinElmer/Revvity NEXTflex v3/v4: TruSeq 3' adapter; 4 random nt "
            "at both insert ends, cut after the adapter is removed.",
        ),
        Protocol(
            "qiaseq",
            "AACTGTAGGCACCATCAAT",
            umi_length=12,
            description="QIAGEN QIAseq miRNA: 3' adapter AACTGTAGGCACCATCAAT followed by a "
            "12-nt UMI, extracted with umi_tools before trimming.",
        ),
        Protocol(
            "nebnext",
            "AGATCGGAAGAGCACACGTCT",
            description="NEBNext small RNA: 3' adapter AGATCGGAAGAGCACACGTCT.",
        ),
        Protocol(
            "cats",
            "A" * 15,
            clip_5p=3,
            description="Diagenode CATS: poly(A) tail as 3' adapter; 3 template-switch nt at "
            "the 5' end, cut after the tail is removed.",
        ),
    )
}


def resolve_protocol(name: str, overrides: dict[str, Any] | None = None) -> Protocol:
    """The preset called ``name`` with config overrides applied.

    ``custom`` takes its adapter and clips from ``overrides`` (config keys
    ``adapter``, ``adapter_5p``, ``clip_5p``, ``clip_3p``); for the other
    presets a non-empty ``adapter`` replaces the preset's 3' adapter.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, "")}
    if name == "custom":
        if "adapter" not in overrides:
            raise ValueError(
                "protocol 'custom' needs the 3' adapter: set 'adapter' in the config "
                "(e.g. adapter: TGGAATTCTCGGGTGCCAAGG)"
            )
        base = Protocol("custom", overrides["adapter"], description="User-defined adapters and clips.")
    elif name in PRESETS:
        base = PRESETS[name]
    else:
        raise ValueError(
            f"unknown protocol '{name}'; choose one of: {', '.join(sorted(PRESETS))}, custom, auto"
        )
    changes: dict[str, Any] = {}
    if "adapter" in overrides:
        changes["adapter_3p"] = overrides["adapter"]
    for key in ("adapter_5p", "clip_5p", "clip_3p"):
        if key in overrides:
            changes[key] = overrides[key]
    return replace(base, **changes)


def adapter_pass_args(
    protocol: Protocol, quality_cutoff: int, keep_untrimmed: bool, threads: int = 1
) -> list[str]:
    """cutadapt arguments of the adapter pass (input and output not included)."""
    args = ["cutadapt", "--cores", str(threads), "--quality-cutoff", str(quality_cutoff)]
    args += ["--adapter", protocol.adapter_3p]
    if protocol.adapter_5p:
        args += ["--front", protocol.adapter_5p]
    args += list(protocol.extra_adapter_args)
    if not keep_untrimmed:
        args.append("--discard-untrimmed")
    return args


def clip_pass_args(protocol: Protocol) -> list[str]:
    """cutadapt arguments of the clip pass, or an empty list when nothing is clipped."""
    args = []
    if protocol.clip_5p:
        args += ["--cut", str(protocol.clip_5p)]
    if protocol.clip_3p:
        args += ["--cut", str(-protocol.clip_3p)]
    return ["cutadapt", *args] if args else []
