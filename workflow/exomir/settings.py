"""One settings layer: the config and its inputs, checked once, before any job.

:func:`load_run` takes the config as Snakemake loaded it and the workflow's folder,
validates the config against the schema (filling in the defaults), reads the sample
sheet (and the count matrix of a ``counts:`` run) and checks everything that can be
checked before any job: paths, sample names, FASTQ files, contrasts and designs,
covariates, kits, control features and hemolysis miRNAs against the reference, the
drug, the count matrix's samples and names. It returns one frozen :class:`Run`, which
``common.smk`` hands to the rules. Every problem is a :class:`SettingsError` whose
one-line message names the sample, file, key or value and the fix.

What cannot be known before the data are read (a wrong kit, an empty library) is
detected by the jobs and reported by the QC (:mod:`exomir.qc`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import design, reference, schema, sizing
from .biomarker_settings import (
    BiomarkerSettings,
    check_features,
    decide_enabled,
    group_sizes,
    metadata_path,
    read_model_features,
)
from .composition import Reference, references_from_config
from .count import check_multimappers
from .design import Contrast, is_continuous, listing
from .hemolysis_settings import Settings as HemolysisSettings
from .hemolysis_settings import read_blood_cell_list
from .protocols import OVERRIDE_KEYS, Protocol, resolve_protocol, sample_protocols
from .qc import QCSettings, find_feature
from .samplesheet import NAME_CHARACTERS, read_sample_sheet, shared_fastq

#: Tables of results/de/ that a contrast must not be named after, or end with.
RESERVED_CONTRAST_NAMES = ("vst", "size_factors", "excluded_samples")
RESERVED_CONTRAST_SUFFIXES = (".blood_cell_caution", ".hemolysis_adjusted", ".hemolysis_changes")


class SettingsError(ValueError):
    """The run cannot start; the message names the key, file or sample and the fix."""


@dataclass(frozen=True)
class Run:
    """Everything the rules need to know about one run, checked."""

    root: Path
    config: dict
    sheet_path: str
    sheet: pd.DataFrame  # text cells, indexed by sample (sorted)
    design_table: pd.DataFrame  # the sheet without fastq, covariates typed
    contrasts: tuple[Contrast, ...]  # the main contrast first
    protocols: dict[str, Protocol]  # per sample; empty for a counts run
    count_matrix: str  # the user's matrix; "" for a FASTQ run
    reference: dict[str, str]  # mature and hairpin FASTA the reference is built from
    resistance_list: str
    qc: QCSettings
    trna_table: str  # "" when there is no tRNA stage
    references: tuple[Reference, ...]  # composition.references, FASTA paths resolved
    apply_model: str  # a saved biomarker model to score this run's samples with; "" if none
    blood_cell_list: str
    notes: tuple[str, ...] = field(default=())

    @property
    def samples(self) -> list[str]:
        return list(self.sheet.index)

    @property
    def umi_samples(self) -> list[str]:
        """Samples whose trimming may run umi_tools extract: UMI kits, and auto (kit found
        in the job); the others' umi_tools log only says there is none. None in a counts run."""
        return [s for s, p in self.protocols.items() if sizing.trim_path(p) == "umi"]

    @property
    def from_counts(self) -> bool:
        return bool(self.count_matrix)

    @property
    def fits_biomarker(self) -> bool:
        """Whether the run fits a biomarker panel (decided after QC when enabled is auto)."""
        return not self.apply_model and self.config["biomarker"]["enabled"] is not False

    @property
    def biomarker_may_run(self) -> bool:
        """Whether the biomarker fit can run: QC only removes samples, so a sheet whose
        smaller group is below ``enabled: auto``'s minimum already decides it will not."""
        settings = BiomarkerSettings.from_config(self.config["biomarker"])
        sizes = group_sizes(self.design_table, self.main)
        return self.fits_biomarker and decide_enabled(settings, *sizes)[0]

    @property
    def spike_ins(self) -> list[str]:
        return [r.name for r in self.references if r.spike_in]

    @property
    def main(self) -> Contrast:
        return self.contrasts[0]

    @property
    def continuous(self) -> list[str]:
        return [c for c in self.design_table if is_continuous(self.design_table[c])]

    def final_rules(self) -> list[str]:
        """The rules whose outputs are the run's results (besides per-contrast figures)."""
        final = ["record_provenance"] + (["apply_biomarker"] if self.apply_model else [])
        if not self.from_counts:
            final += ["merge_counts", "summarise_qc", "summarise_composition"]
            final += ["measure_complexity", "build_multiqc_report", "annotate_isomirs"]
            final += ["count_spikeins"] if self.spike_ins else []
        if self.apply_model:
            return final
        final += ["annotate_resistance", "plot_sample_qc", "plot_pca", "plot_heatmap"]
        return final + ["plot_review_boxplots"] + (["fit_biomarker"] if self.fits_biomarker else [])

    def checksummed_files(self) -> dict[str, str]:
        """Input files whose sha256 the provenance table records."""
        files = {f"{key}_fasta": path for key, path in self.reference.items()}
        files |= {"resistance_list": self.resistance_list, "samples": self.sheet_path}
        files |= {"blood_cell_list": self.blood_cell_list}
        return files | ({"counts": self.count_matrix} if self.from_counts else {})

    def fastq(self, sample: str) -> str:
        return str(self.sheet.loc[sample, "fastq"])

    @property
    def plot_covariate(self) -> str:
        """The main design's first factor other than the contrast variable ('' if none)."""
        for name in design.design_variables(self.main.design):
            column = self.design_table.get(name)
            if name != self.main.variable and column is not None and not is_continuous(column):
                return name
        return ""


def name_pattern(names: Iterable[str]) -> str:
    """A regular expression matching exactly ``names``, as a trie (for wildcard constraints).

    A plain alternation of a thousand sample names makes every wildcard match try each
    name in turn; the trie form matches in one pass over the name.
    """
    trie: dict = {}
    for name in names:
        node = trie
        for char in name:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_pattern(trie) or "(?!)"


def sample_pattern(names: Iterable[str]) -> str:
    """The wildcard constraint of the sample names.

    Where no name holds a dot, the characters a name may have (``NAME_CHARACTERS``)
    without the dot: every path puts '.' or '/' after the sample, so no path can be read as
    another sample's or another rule's. Otherwise exactly ``names`` (:func:`name_pattern`).
    Snakemake rewrites every path through the constraint's text: a 1,000-name trie cost a
    1,000-sample dry run about 0.9 s more than the character class.
    """
    names = list(names)
    if any("." in name for name in names):
        return name_pattern(names)
    return f"[{NAME_CHARACTERS.replace('.', '')}]+"


def _trie_pattern(node: dict) -> str:
    branches = [
        re.escape(char) + _trie_pattern(child) for char, child in sorted(node.items()) if char
    ]
    if not branches:
        return ""
    group = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if "" in node:
        return f"(?:{group})?"
    return group


def load_run(config: dict, root: str | Path, workdir: str | Path | None = None) -> Run:
    """Validate ``config`` (defaults filled in place) and its inputs; the checked run."""
    root, workdir = Path(root), Path(workdir or Path.cwd())
    try:
        schema.validate_config(config)
    except schema.ConfigError as error:
        raise SettingsError(str(error)) from None
    paths = _paths(config, root, workdir)
    _check_trimming(config["trimming"])
    try:
        return _load(config, root, workdir, paths)
    except ValueError as error:
        if isinstance(error, SettingsError):
            raise
        raise SettingsError(str(error)) from None


def _load(config: dict, root: Path, workdir: Path, paths: dict[str, str]) -> Run:
    from_counts = bool(paths["counts"])
    sheet = read_sample_sheet(paths["samples"], require_fastq=not from_counts)
    contrasts = _contrasts(config)
    table, notes = _design_table(sheet, contrasts, config["categorical"])
    apply_model = _biomarker(config, root, workdir, sheet)
    if not apply_model:  # a run that scores new samples fits no contrast
        for contrast in contrasts:
            design.check_contrast(contrast, table)
        _check_levels(contrasts[0], table, paths["samples"])
    features = _reference_features(config, paths, root)
    if from_counts:
        rows, more = _check_count_matrix(config, paths, sheet, features)
    else:
        rows, more = _known_names(features), _check_fastq(config, sheet)
    _check_control_features(config["de"]["control_features"], rows)
    if apply_model:
        check_features(read_model_features(apply_model), rows, _feature_source(paths))
    notes += more
    qc = QCSettings.from_config(config["qc"])
    _check_hemolysis_mirnas(qc.hemolysis_mirnas, features)
    _check_drug(config["drug"], paths["resistance_list"])
    check_multimappers(config["counting"]["multimappers"])
    return Run(
        root=root,
        config=config,
        sheet_path=paths["samples"],
        sheet=sheet,
        design_table=table,
        contrasts=contrasts,
        protocols={} if from_counts else _protocols(config, sheet),
        count_matrix=paths["counts"],
        reference={"mature": paths["mature"], "hairpin": paths["hairpin"]},
        resistance_list=paths["resistance_list"],
        qc=qc,
        trna_table=_trna_table(config, root, workdir),
        references=_composition_references(config, root, workdir),
        apply_model=apply_model,
        blood_cell_list=_blood_cell_list(config, root, workdir),
        notes=notes,
    )


# ------------------------------------------------------------------------------------------
# Paths
# ------------------------------------------------------------------------------------------


def resolve_path(path: str, root: Path, workdir: Path) -> str:
    """A config path: absolute, else relative to the working directory, else to the workflow."""
    if not path:
        return ""
    candidate = Path(path)
    if candidate.is_absolute():
        return str(candidate)
    if (workdir / candidate).exists():
        return str((workdir / candidate).resolve())
    bundled = root / candidate
    return str(bundled.resolve()) if bundled.exists() else str(workdir / candidate)


def _paths(config: Mapping, root: Path, workdir: Path) -> dict[str, str]:
    if not config["samples"]:
        raise SettingsError(
            "config key 'samples' is not set: give your sample sheet (samples: my/samples.tsv "
            "in a config passed with --configfile, or --config samples=my/samples.tsv); "
            "`make example` runs the bundled example"
        )
    paths = {
        key: resolve_path(config[key], root, workdir)
        for key in ("samples", "counts", "resistance_list")
    }
    paths.update(_reference_paths(config["reference"], root, workdir))
    if paths["counts"]:
        _check_counts_path(config["counts"], paths["counts"], workdir)
    return paths


def _reference_paths(ref: Mapping, root: Path, workdir: Path) -> dict[str, str]:
    """Mature and hairpin FASTA of the reference (for another species: the rule's output)."""
    if ref["mature_fasta"] or ref["hairpin_fasta"]:
        if not (ref["mature_fasta"] and ref["hairpin_fasta"]):
            raise SettingsError(
                "config keys reference.mature_fasta and reference.hairpin_fasta go together; "
                "set both or neither"
            )
        paths = {k: resolve_path(ref[f"{k}_fasta"], root, workdir) for k in ("mature", "hairpin")}
        for key, path in paths.items():
            if not Path(path).is_file():
                raise SettingsError(f"reference.{key}_fasta: file {path} does not exist")
        return paths
    if ref["species"] == "hsa":
        bundled = root / "resources" / "mirbase"
        return {k: str(bundled / f"hsa_{k}.fa") for k in ("mature", "hairpin")}
    return {k: f"results/reference/source/{ref['species']}_{k}.fa" for k in ("mature", "hairpin")}


def _trna_table(config: Mapping, root: Path, workdir: Path) -> str:
    """The tRNA feature table, "" without a tRNA stage; the bundled one is human."""
    given = config["composition"]["trna_table"]
    bundled = (
        given
        == schema.load_schema()["properties"]["composition"]["properties"]["trna_table"]["default"]
    )
    if bundled and config["reference"]["species"] != "hsa":
        raise SettingsError(
            f"config key composition.trna_table: the bundled tRNAs are human, the reference is "
            f"'{config['reference']['species']}'; set composition.trna_table to a table of "
            "that species (python -m exomir.trna) or to '' to skip the tRNA stage"
        )
    path = resolve_path(given, root, workdir)
    if path and not Path(path).is_file():
        raise SettingsError(f"config key composition.trna_table: {path} does not exist")
    if "trna" in config["de"]["features"] and config["counts"]:
        raise SettingsError(
            "config key de.features lists trna, but a counts: run has no tRNA counts; remove "
            "trna from de.features"
        )
    if not path and "trna" in config["de"]["features"]:
        raise SettingsError(
            "config key de.features lists trna, but composition.trna_table is empty: set a "
            "tRNA table or remove trna from de.features"
        )
    return path


def _composition_references(config: Mapping, root: Path, workdir: Path) -> tuple[Reference, ...]:
    """``composition.references`` checked, their FASTA paths resolved and present."""
    references = references_from_config(config["composition"]["references"])
    resolved = []
    for i, entry in enumerate(references):
        path = resolve_path(entry.fasta, root, workdir)
        if not Path(path).is_file():
            raise SettingsError(
                f"config key composition.references[{i}] ({entry.name}): FASTA {path} "
                "does not exist"
            )
        resolved.append(entry._replace(fasta=path))
    return tuple(resolved)


def _blood_cell_list(config: Mapping, root: Path, workdir: Path) -> str:
    """The blood-cell list of the hemolysis guard, read and checked."""
    settings = HemolysisSettings.from_config(config["hemolysis"])
    path = resolve_path(settings.blood_cell_list, root, workdir)
    if not Path(path).is_file():
        raise SettingsError(f"config key hemolysis.blood_cell_list: {path} does not exist")
    read_blood_cell_list(path)
    return path


def _biomarker(config: Mapping, root: Path, workdir: Path, sheet: pd.DataFrame) -> str:
    """The biomarker settings checked; the saved model to apply ("" when fitting)."""
    settings = BiomarkerSettings.from_config(config["biomarker"])
    absent = [c for c in settings.covariates if c not in sheet.columns]
    if absent:
        raise SettingsError(
            f"config key biomarker.covariates lists {listing(absent)}, not column(s) of the "
            f"sample sheet (columns: {listing(sheet.columns, 50)})"
        )
    model = resolve_path(settings.apply_model, root, workdir)
    if model and not (Path(model).is_file() and metadata_path(model).is_file()):
        raise SettingsError(
            f"config key biomarker.apply_model: {model} or its {metadata_path(model).name} does "
            "not exist; give the model.joblib of an earlier run, with model.json beside it"
        )
    return model


def _feature_source(paths: Mapping[str, str]) -> str:
    return f"count matrix {paths['counts']}" if paths["counts"] else "the configured reference"


def _check_counts_path(given: str, path: str, workdir: Path) -> None:
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise SettingsError(f"config key 'counts': count matrix {path} does not exist")
    if resolved.is_relative_to((workdir / "results").resolve()):
        raise SettingsError(
            f"config key 'counts': {given} lies in this run's own results/ folder, which the "
            "run writes; copy the matrix elsewhere (or run in another --directory)"
        )


def _check_trimming(trimming: Mapping) -> None:
    if trimming["min_length"] > trimming["max_length"]:
        raise SettingsError(
            f"config keys trimming.min_length ({trimming['min_length']}) and "
            f"trimming.max_length ({trimming['max_length']}): the shortest insert kept is "
            "longer than the longest, so no read would be kept; swap them"
        )


# ------------------------------------------------------------------------------------------
# Contrasts and design
# ------------------------------------------------------------------------------------------


def _contrasts(config: Mapping) -> tuple[Contrast, ...]:
    contrasts = [Contrast.from_config(config)]
    for index, spec in enumerate(config["de"]["extra_contrasts"]):
        contrasts.append(Contrast.extra(spec, config["design"], index))
    names = [c.name for c in contrasts]
    for contrast in contrasts[1:]:
        reserved = contrast.name in RESERVED_CONTRAST_NAMES or contrast.name.endswith(
            RESERVED_CONTRAST_SUFFIXES
        )
        if names.count(contrast.name) > 1 or reserved:
            raise SettingsError(
                f"{contrast.key}: the name '{contrast.name}' is used twice or clashes with the "
                f"main contrast '{names[0]}' or results/de/{contrast.name}.tsv "
                f"({', '.join(RESERVED_CONTRAST_NAMES)} are taken); give each contrast a "
                "unique name"
            )
    return tuple(contrasts)


def _design_table(
    sheet: pd.DataFrame, contrasts: tuple[Contrast, ...], categorical: list[str]
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The sheet (without fastq) with continuous covariates typed; a note naming them."""
    unknown = [c for c in categorical if c not in sheet.columns]
    if unknown:
        raise SettingsError(
            f"config key 'categorical' lists {listing(unknown)}, not column(s) of the sample "
            f"sheet (columns: {listing(sheet.columns, 50)})"
        )
    variables = sorted({v for c in contrasts for v in _variables(c, sheet)})
    factors = design.factor_variables(contrasts, categorical)
    table = design.type_covariates(
        sheet.drop(columns=["fastq"], errors="ignore"), variables, factors
    )
    continuous = [v for v in variables if v in table and design.is_continuous(table[v])]
    notes: tuple[str, ...] = ()
    if continuous:
        notes = (
            f"design variable(s) {', '.join(continuous)} hold only numbers and are modelled as "
            "continuous covariates; list them under 'categorical' in the config to model them "
            "as factors (e.g. numeric batch or patient codes)",
        )
    return table, notes


def _variables(contrast: Contrast, sheet: pd.DataFrame) -> list[str]:
    try:
        return design.design_variables(contrast.design)
    except design.DesignError as error:
        raise SettingsError(f"{contrast.key}: {error}") from None


def _check_levels(main: Contrast, table: pd.DataFrame, sheet_path: str) -> None:
    """Every sample belongs to the main contrast's case or control."""
    if design.is_continuous(table[main.variable]):
        return
    for sample, level in zip(table.index, table[main.variable].astype(str)):
        if level not in (main.case, main.control):
            raise SettingsError(
                f"sample sheet {sheet_path}: sample '{sample}' has {main.variable} '{level}', "
                f"which is neither the contrast's case '{main.case}' nor its control "
                f"'{main.control}'; fix the sheet, or the config's contrast"
            )


# ------------------------------------------------------------------------------------------
# FASTQ runs and counts runs
# ------------------------------------------------------------------------------------------


def _check_fastq(config: Mapping, sheet: pd.DataFrame) -> tuple[str, ...]:
    shared = shared_fastq(sheet)
    if not shared:
        return ()
    listed = "; ".join(f"{fastq} for {', '.join(samples)}" for fastq, samples in shared.items())
    if not config["allow_duplicate_fastq"]:
        raise SettingsError(
            f"the same FASTQ file is listed for several samples ({listed}); copies of one "
            "library are not biological replicates: list each library once, or set "
            "allow_duplicate_fastq: true for technical copies"
        )
    return (
        f"WARNING: the same FASTQ file is listed for several samples ({listed}); "
        "allow_duplicate_fastq is true, so they are analysed as separate samples, which "
        "inflates the evidence of any comparison between them",
    )


def _protocols(config: Mapping, sheet: pd.DataFrame) -> dict[str, Protocol]:
    overrides = {k: config[k] for k in OVERRIDE_KEYS}
    resolve_protocol(config["protocol"], overrides)  # the config's own kit must be valid
    column = "protocol" in sheet.columns
    per_sample = {s: sheet.loc[s, "protocol"] if column else "" for s in sheet.index}
    return sample_protocols(config["protocol"], overrides, per_sample)


def _check_count_matrix(
    config: Mapping, paths: Mapping[str, str], sheet: pd.DataFrame, features: list[str]
) -> tuple[list[str], tuple[str, ...]]:
    """The matrix's row names (prefixed) and a note on rows unknown to the reference."""
    from .de import check_samples_match, read_count_matrix

    counts = read_count_matrix(paths["counts"])
    check_samples_match(counts, sheet, paths["counts"], paths["samples"])
    known = set(_known_names(features))
    rows = [config["counts_name_prefix"] + name for name in counts.index]
    unmatched = [name for name in rows if name not in known]
    if len(unmatched) == len(rows):
        raise SettingsError(
            f"count matrix {paths['counts']}: none of its {len(rows)} row names (e.g. "
            f"{listing(rows[:3])}) is a miRNA of the reference (e.g. {listing(features[:2])}); "
            "name rows as miRBase does, set counts_name_prefix (e.g. 'hsa-') for names without "
            "species prefix, or set reference.species / reference.mature_fasta to the right "
            "reference"
        )
    if not unmatched:
        return rows, ()
    return rows, (
        f"count matrix {paths['counts']}: {len(unmatched)} of {len(rows)} row names match no "
        f"miRNA of the reference ({listing(unmatched, 5)}); they are tested but cannot be "
        "annotated",
    )


# ------------------------------------------------------------------------------------------
# Names checked against the reference and the resistance list
# ------------------------------------------------------------------------------------------


def _reference_features(config: Mapping, paths: Mapping[str, str], root: Path) -> list[str]:
    """Count-feature names of the reference (identical mature sequences merged)."""
    species = config["reference"]["species"]
    if Path(paths["mature"]).is_file():
        mature = reference.mature_from_fasta(paths["mature"])
    else:  # another species: extracted by a rule, read here from the bundled table
        table = root / "resources" / "mirbase" / "miRBase_v22_all.csv.gz"
        try:
            mature, _ = reference.extract_species(table, species)
        except ValueError as error:
            raise SettingsError(f"config key reference.species: {error}") from None
    return [feature for feature, _, _ in reference.build_features(mature)]


def _known_names(features: Iterable[str]) -> list[str]:
    """Feature names and their member mature names."""
    names = set(features)
    names.update(m for f in features for m in f.split(reference.FEATURE_SEPARATOR))
    return sorted(names)


def _check_control_features(controls: list[str], known: list[str]) -> None:
    unknown = [c for c in controls if c not in set(known)]
    if unknown:
        raise SettingsError(
            f"config key de.control_features: {listing(_with_suggestions(unknown, known))} "
            "not a feature of the count matrix; fix the spelling or remove them"
        )


def _check_hemolysis_mirnas(names: tuple[str, ...], features: list[str]) -> None:
    for name in names:
        if find_feature(features, name) is None:
            bare = sorted({m.split("-", 1)[-1] for m in _known_names(features)})
            raise SettingsError(
                f"config key qc.hemolysis_mirnas: '{name}' is not a mature miRNA of the "
                f"reference{_suggestion(name, bare)}; use names such as miR-451a and "
                "miR-23a-3p (without species prefix)"
            )


def _with_suggestions(names: list[str], known: list[str]) -> list[str]:
    return [f"'{name}'{_suggestion(name, known)}" for name in names]


def _suggestion(name: str, known: list[str]) -> str:
    """The likely intended name: one that extends it (miR-451 → miR-451a), else the closest."""
    longer = sorted(
        k for k in known if k.startswith(name) and len(k) > len(name) and not k[len(name)].isdigit()
    )
    close = longer[:1] or difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_drug(drug: str, resistance_list: str) -> None:
    if not drug:
        return
    from .annotate import check_drug, read_resistance_list

    check_drug(drug, read_resistance_list(resistance_list))
