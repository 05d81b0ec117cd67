"""Library-kit presets and the commands they translate to.

A kit decides where the insert sits in the read. The layouts (5' to 3' on
read 1) are:

============  ===============================================================
truseq        insert · TGGAATTCTCGGGTGCCAAGG · read-through
illumina      alias of truseq
illumina_v1   insert · TCGTATGCCGTCTTCTGCTTG · read-through
nextflex      NNNN · insert · NNNN · TGGAATTCTCGGGTGCCAAGG · read-through
qiaseq        insert · AACTGTAGGCACCATCAAT · UMI (12 nt) · read-through
nebnext       insert · AGATCGGAAGAGCACACGTCT · read-through
cats          3 template-switch nt · insert · poly(A) · read-through
custom        [5' adapter | clip_5p nt] · insert · [clip_3p nt] · 3' adapter
============  ===============================================================

Trimming runs as streamed passes, because cutadapt applies ``--cut`` (``-u``)
*before* adapter removal while random or template-switch bases sit at the
insert ends, next to the adapter:

0. UMI pass (qiaseq): ``umi_tools extract`` takes the UMI that follows the
   adapter from the *raw* read and appends it to the read name; the read keeps
   insert + adapter, everything after the adapter is dropped;
1. adapter pass: 3' quality trimming and removal of the 3' adapter; reads
   without adapter are discarded unless ``keep_untrimmed`` is set;
2. 5' adapter pass (custom ``adapter_5p`` only): removal of the 5' adapter(s);
3. clip pass: the kit's fixed bases at the insert ends (NEXTflex 4N, CATS
   template-switch bases, custom clips) are cut from the adapter-free insert.

The length window is applied when identical inserts are collapsed, so that QC
sees the full insert-length histogram (dimers, too short, too long).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

TRUSEQ_3P = "TGGAATTCTCGGGTGCCAAGG"
ILLUMINA_V1_3P = "TCGTATGCCGTCTTCTGCTTG"
QIASEQ_3P = "AACTGTAGGCACCATCAAT"
NEBNEXT_3P = "AGATCGGAAGAGCACACGTCT"
CATS_POLY_A = "A" * 15
QIASEQ_UMI_LENGTH = 12
# Substitutions tolerated in the QIAseq adapter when the UMI is located.
UMI_ADAPTER_MISMATCHES = 2

AUTO = "auto"
CUSTOM = "custom"
OVERRIDE_KEYS = ("adapter", "adapter_5p", "clip_5p", "clip_3p")


class Protocol(NamedTuple):
    """How a library kit lays out a read: adapters and bases to clip from the insert.

    A named tuple (compared and printed by value), so that Snakemake sees a sample's
    changed kit in the trimming rule's params and trims it again.
    """

    name: str
    adapter_3p: str
    adapter_5p: str = ""  # one 5' adapter, or several separated by commas
    clip_5p: int = 0  # bases cut from the insert's 5' end after adapter removal
    clip_3p: int = 0  # bases cut from the insert's 3' end after adapter removal
    umi_length: int = 0  # UMI right after the 3' adapter (QIAseq)
    description: str = ""

    @property
    def is_auto(self) -> bool:
        return self.name == AUTO

    def as_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.name,
            "adapter_3p": self.adapter_3p,
            "adapter_5p": self.adapter_5p,
            "clip_5p": self.clip_5p,
            "clip_3p": self.clip_3p,
            "umi_length": self.umi_length,
        }


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
            ILLUMINA_V1_3P,
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
            QIASEQ_3P,
            umi_length=QIASEQ_UMI_LENGTH,
            description="QIAGEN QIAseq miRNA: 3' adapter AACTGTAGGCACCATCAAT followed by a "
            "12-nt UMI, extracted with umi_tools before trimming; molecules deduplicated.",
        ),
        Protocol(
            "nebnext",
            NEBNEXT_3P,
            description="NEBNext small RNA: 3' adapter AGATCGGAAGAGCACACGTCT.",
        ),
        Protocol(
            "cats",
            CATS_POLY_A,
            clip_5p=3,
            description="Diagenode CATS: poly(A) tail as 3' adapter; 3 template-switch nt at "
            "the 5' end, cut after the tail is removed.",
        ),
    )
}
PROTOCOL_NAMES = (*PRESETS, CUSTOM, AUTO)

AUTO_PLACEHOLDER = Protocol(
    AUTO, "", description="Adapter and random bases detected per sample from its first reads."
)


def resolve_protocol(name: str, overrides: Mapping[str, Any] | None = None) -> Protocol:
    """The preset called ``name`` with config overrides applied.

    ``custom`` takes its adapter and clips from ``overrides`` (config keys
    ``adapter``, ``adapter_5p``, ``clip_5p``, ``clip_3p``); for the other
    presets a non-empty ``adapter`` replaces the preset's 3' adapter. ``auto``
    returns a placeholder: the adapter is detected per sample when it is
    trimmed (:mod:`exomir.adapters`); overrides do not apply to it.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, "", 0)}
    if name == AUTO:
        return AUTO_PLACEHOLDER
    if name == CUSTOM:
        if "adapter" not in overrides:
            raise ValueError(
                "protocol 'custom' needs the 3' adapter: set 'adapter' in the config "
                "(e.g. adapter: TGGAATTCTCGGGTGCCAAGG), and optionally adapter_5p, clip_5p, "
                "clip_3p"
            )
        base = Protocol(
            CUSTOM, overrides["adapter"], description="User-defined adapters and clips."
        )
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
    protocol = base._replace(**changes)
    _check_sequence(protocol.adapter_3p, "adapter")
    for adapter in _split_adapters(protocol.adapter_5p):
        _check_sequence(adapter.lstrip("^"), "adapter_5p")
    return protocol


def sample_protocols(
    default: str,
    overrides: Mapping[str, Any],
    per_sample: Mapping[str, str],
) -> dict[str, Protocol]:
    """The protocol of every sample.

    ``per_sample`` maps sample to the sheet's ``protocol`` column (empty: the
    config's ``default``). The config overrides apply to samples of protocol
    ``custom`` and to samples that use the config's own protocol; a sample
    that names another preset in the sheet gets that preset unchanged.
    """
    resolved: dict[str, Protocol] = {}
    for sample, name in per_sample.items():
        name = (name or "").strip() or default
        applies = name in (default, CUSTOM)
        try:
            resolved[sample] = resolve_protocol(name, overrides if applies else None)
        except ValueError as error:
            raise ValueError(f"sample '{sample}': {error}") from None
    return resolved


def _split_adapters(spec: str) -> list[str]:
    return [a.strip() for a in spec.split(",") if a.strip()]


def _check_sequence(seq: str, key: str) -> None:
    allowed = set("ACGTNRYSWKMBDHV")
    if not seq or not set(seq.upper()) <= allowed:
        raise ValueError(
            f"'{key}' must be a DNA sequence (IUPAC letters), got '{seq}'; for a 5' adapter "
            "anchored to the read start write ^SEQUENCE"
        )


def umi_pattern(protocol: Protocol, mismatches: int = UMI_ADAPTER_MISMATCHES) -> str:
    """``umi_tools extract --extract-method=regex`` pattern of a UMI after the 3' adapter.

    The insert and the adapter stay in the read (for cutadapt to trim, so that
    its report counts adapters as for any kit); the UMI is moved to the read
    name and everything after it is discarded. The leftmost adapter match
    wins; reads in which no adapter with a complete UMI is found are dropped
    by umi_tools (they cannot be deduplicated).
    """
    return (
        rf"^(?P<insert>.*?)(?:{protocol.adapter_3p}){{s<={mismatches}}}"
        rf"(?P<umi_1>.{{{protocol.umi_length}}})(?P<discard_1>.*)$"
    )


def umi_extract_args(protocol: Protocol, fastq: str, log: str) -> list[str]:
    """umi_tools extract command of the UMI pass (writes FASTQ to stdout)."""
    return [
        "umi_tools",
        "extract",
        "--extract-method=regex",
        f"--bc-pattern={umi_pattern(protocol)}",
        "--umi-separator=_",
        "--stdin",
        fastq,
        "--log",
        log,
    ]


def adapter_pass_args(
    protocol: Protocol,
    quality_cutoff: int | None,
    keep_untrimmed: bool,
    error_rate: float,
    threads: int,
) -> list[str]:
    """cutadapt arguments of the adapter pass (input and output not included).

    ``quality_cutoff`` None: no quality trimming in this pass (the distinct-read
    path trims qualities while counting, :mod:`exomir.distinct`). ``error_rate``
    is cutadapt's ``--error-rate`` (config ``trimming.error_rate``).
    """
    args = ["cutadapt", "--cores", str(threads)]
    if quality_cutoff is not None:
        args += ["--quality-cutoff", str(quality_cutoff)]
    args += ["--error-rate", str(error_rate)]
    args += ["--adapter", protocol.adapter_3p]
    if not keep_untrimmed:
        args.append("--discard-untrimmed")
    return args


def trims_distinct_reads(protocol: Protocol) -> bool:
    """Whether identical raw reads are trimmed once (:mod:`exomir.distinct`) for this kit.

    Correct for every kit without UMI (cutadapt's result depends on the read's
    sequence only, once quality-trimmed); worth it where raw reads repeat: kits
    whose reads carry no random bases (truseq, illumina, illumina_v1, nebnext,
    and cats, whose 3 template-switch nt take few values). NEXTflex's 8 random
    nt make nearly every raw read distinct, as do the clipped ends of a custom
    or detected layout (assumed random): those keep trimming every read. UMI
    kits need each read's UMI, taken before trimming.
    """
    if protocol.umi_length:
        return False
    if protocol.name == "cats":
        return True
    return not (protocol.clip_5p or protocol.clip_3p)


def front_pass_args(protocol: Protocol) -> list[str]:
    """cutadapt arguments of the 5' adapter pass, or an empty list without 5' adapter.

    A separate pass, because one cutadapt pass removes one adapter per read.
    """
    adapters = _split_adapters(protocol.adapter_5p)
    if not adapters:
        return []
    args = ["cutadapt"]
    for adapter in adapters:
        args += ["--front", adapter]
    return args


def clip_pass_args(protocol: Protocol) -> list[str]:
    """cutadapt arguments of the clip pass, or an empty list when nothing is clipped."""
    args = []
    if protocol.clip_5p:
        args += ["--cut", str(protocol.clip_5p)]
    if protocol.clip_3p:
        args += ["--cut", str(-protocol.clip_3p)]
    return ["cutadapt", *args] if args else []


def kit_read(
    protocol: Protocol,
    insert: str,
    read_length: int = 75,
    random_5p: str = "",
    random_3p: str = "",
    umi: str = "",
    readthrough: str = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCACATCACGATCTCGTATGCCGTCTTCTGCTTG",
) -> str:
    """The read 1 sequence a kit produces for ``insert`` (for tests and simulations).

    ``random_5p``/``random_3p`` are the bases the kit adds next to the insert
    (NEXTflex random nt, CATS template-switch nt, custom clips); a custom
    5' adapter is placed before them. Reads longer than ``read_length`` are
    cut, as the sequencer does.
    """
    five = _split_adapters(protocol.adapter_5p)
    prefix = five[0].lstrip("^") if five else ""
    read = prefix + random_5p + insert + random_3p + protocol.adapter_3p
    if protocol.name == "cats":
        read = random_5p + insert + "A" * 30
    read += umi + readthrough
    return read[:read_length]
