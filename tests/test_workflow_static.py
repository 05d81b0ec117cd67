"""Static checks of the workflow: conda envs, lint, formatting, config validation."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, run_snakemake, tool_env

RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))


def _rules():
    """(file, rule name, body) for every rule in the workflow."""
    found = []
    for path in RULE_FILES:
        text = path.read_text()
        for match in re.finditer(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", text, flags=re.M):
            found.append((path, match.group(1), match.group(2)))
    return found


def test_every_rule_has_log_and_a_pinned_conda_env():
    rules = _rules()
    assert len(rules) >= 8
    for path, name, body in rules:
        assert re.search(r"^\s+log:", body, re.M), f"rule {name} ({path.name}) has no log:"
        env = re.search(r'^\s+conda:\n\s+"([^"]+)"', body, re.M)
        assert env, f"rule {name} ({path.name}) has no conda: env"
        env_path = (path.parent / env.group(1)).resolve()
        assert env_path.parent == REPO / "envs", f"rule {name}: env outside envs/"
        assert env_path.is_file(), f"rule {name}: {env_path} missing"


@pytest.mark.parametrize("env", sorted((REPO / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_conda_env_is_pinned_with_the_right_channels(env):
    spec = yaml.safe_load(env.read_text())
    assert spec["channels"] == ["conda-forge", "bioconda", "nodefaults"]
    assert spec["dependencies"], f"{env.name} lists no packages"
    for dep in spec["dependencies"]:
        assert isinstance(dep, str), f"{env.name}: {dep!r}"
        assert re.fullmatch(r"[A-Za-z0-9_.-]+ ?==?[0-9][0-9A-Za-z.*]*", dep), (
            f"{env.name}: '{dep}' is not pinned"
        )


def test_heavy_rules_have_benchmarks_threads_and_memory():
    heavy = {
        "trim_reads",
        "align_reads",
        "build_bowtie_index",
        "count_sample",
        "fit_diffexp",
    }
    bodies = {name: body for _, name, body in _rules()}
    for name in heavy:
        assert "benchmark:" in bodies[name], name
        assert "mem_mb" in bodies[name], name


def test_snakemake_lint_is_clean(tmp_path, example_dir):
    # the default config reads resources/example, which `make example` writes: use the fixture's
    config = tmp_path / "config.yaml"
    config.write_text(f"samples: {example_dir / 'samples.tsv'}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", "--configfile", str(config)],
        cwd=REPO,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout, proc.stdout


def test_snakefmt_check_passes():
    snakefmt = [sys.executable, "-m", "snakefmt"]
    proc = subprocess.run(
        [*snakefmt, "--check", "Snakefile", "workflow"],
        cwd=REPO,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout


def test_sheet_error_reaches_the_user(tmp_path):
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(
        "sample\tcondition\tfastq\nA\tresistant\ta.fastq.gz\nA\tsensitive\tb.fastq.gz\n"
    )
    proc = run_snakemake(tmp_path, {"samples": str(sheet)}, "-n", check=False)
    assert proc.returncode != 0
    assert "duplicate sample name(s) A" in proc.stdout


def test_dry_run_from_another_working_directory(tmp_path, example_dir):
    proc = run_snakemake(
        tmp_path / "elsewhere", {"samples": str(example_dir / "samples.tsv")}, "-n"
    )
    assert "fit_diffexp" in proc.stdout


def test_other_species_reference_from_the_bundled_table(tmp_path, example_dir):
    config = {
        "samples": str(example_dir / "samples.tsv"),
        "reference": {"species": "mmu"},
        "composition": {"trna_table": ""},  # the bundled tRNAs are human
    }
    run_snakemake(tmp_path, config, "results/reference/features.tsv")
    features = (tmp_path / "results/reference/features.tsv").read_text().splitlines()
    assert len(features) > 1000
    assert all(line.startswith("mmu-") for line in features[1:])


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_is_clean(command):
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "."],
        cwd=REPO,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout


def test_rules_have_docstrings_and_scripts_named_after_them():
    for path, name, body in _rules():
        assert body.lstrip().startswith('"""'), f"rule {name} ({path.name}) has no docstring"
        script = re.search(r'^\s+script:\n\s+"\.\./scripts/([^"]+)\.py"', body, re.M)
        if script:  # a rule of the same step on other features may share it (fit_diffexp_trna)
            assert name.startswith(script.group(1)), f"rule {name} runs {script.group(1)}.py"
    scripts = {p.stem for p in (REPO / "workflow" / "scripts").glob("*.py")}
    assert scripts <= {name for _, name, _ in _rules()}, "a script no rule runs"


def test_common_smk_is_glue_only():
    text = (REPO / "workflow" / "rules" / "common.smk").read_text()
    assert len(text.splitlines()) <= 80
    assert "try:" in text and text.count("try:") == 1  # the one call of load_run
    assert "pd." not in text and "open(" not in text


def test_no_function_in_the_package_is_longer_than_80_lines():
    import ast

    long = []
    for path in sorted((REPO / "workflow" / "exomir").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({length} lines)")
    assert not long, long


def test_no_sys_path_insert_in_scripts_tests_or_benchmarks():
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("workflow", "tests", "benchmarks")
        for path in (REPO / folder).rglob("*.py")
        if "sys.path.insert" in path.read_text() and path.name != "test_workflow_static.py"
    ]
    assert not offenders, offenders


@pytest.mark.parametrize(
    "names",
    [
        ["matrix", "all", "mirtop", "merge_counts", "summarise_qc", "vst"],
        # a dot in a name: the sample constraint lists the names (a.long is not a's long file)
        ["matrix", "all", "mirtop.v2", "a.long", "summarise_qc", "vst.cutadapt"],
    ],
    ids=["plain", "dotted"],
)
def test_sample_names_cannot_collide_with_other_outputs(tmp_path, example_dir, names):
    """Samples named after aggregate outputs ('matrix', 'all', 'mirtop', ...) or after another
    file's suffix get files and logs of their own: every job's outputs and logs differ."""
    fastqs = sorted((example_dir / "fastq").glob("*.fastq.gz"))
    rows = [
        f"{name}\t{'resistant' if i % 2 else 'sensitive'}\t{fastq}"
        for i, (name, fastq) in enumerate(zip(names, fastqs))
    ]
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample\tcondition\tfastq\n" + "\n".join(rows) + "\n")
    proc = run_snakemake(tmp_path / "run", {"samples": str(sheet)}, "-n")
    assert proc.returncode == 0, proc.stdout
    files = [
        path.strip()
        for line in proc.stdout.splitlines()
        if line.strip().startswith(("output:", "log:"))
        for path in line.split(":", 1)[1].split(",")
    ]
    assert len(files) > 100
    assert len(files) == len(set(files)), sorted(f for f in files if files.count(f) > 1)
    assert "logs/count_sample/matrix.log" in files and "logs/merge_counts.log" in files


def test_config_readme_lists_every_key_with_the_schema_default():
    from exomir.schema import readme_with_keys

    text = (REPO / "config" / "README.md").read_text()
    assert readme_with_keys(text) == text, "run: python -m exomir.schema config/README.md"


# import name -> conda package that provides it (the package itself when absent)
CONDA_PROVIDES = {
    "sklearn": ("scikit-learn",),
    "yaml": ("pyyaml",),
    "matplotlib": ("matplotlib-base", "matplotlib"),
    "Bio": ("biopython",),
    "dnaio": ("cutadapt",),  # cutadapt's own dependencies
    "xopen": ("cutadapt",),
}


def _imported_modules(path, top_level_only):
    """Absolute module names imported by a Python file (``exomir.x`` for relative ones)."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body if top_level_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = f"exomir.{node.module}" if node.level else node.module
            if node.level and not node.module or module == "exomir":
                names |= {f"exomir.{alias.name}" for alias in node.names}
            else:
                names.add(module)
    return names


def _third_party_imports(script):
    """Packages a script needs when it runs: everything the script imports, and what the
    exomir modules it reaches import when they are loaded (module level, transitively)."""
    package = REPO / "workflow" / "exomir"
    todo, seen, needed = [(script, False)], set(), set()
    while todo:
        path, top_level_only = todo.pop()
        for name in _imported_modules(path, top_level_only):
            root, _, rest = name.partition(".")
            if root == "exomir":
                module = (
                    package / (rest.replace(".", "/") + ".py") if rest else package / "__init__.py"
                )
                if module.exists() and module not in seen:
                    seen.add(module)
                    todo.append((module, True))
            elif root not in sys.stdlib_module_names and root != "__future__":
                needed.add(root)
    return needed


def test_every_script_finds_its_imports_in_its_conda_env():
    checked = 0
    for path, name, body in _rules():
        script = re.search(r'^\s+script:\n\s+"([^"]+)"', body, re.M)
        if not script:
            continue
        env_file = re.search(r'^\s+conda:\n\s+"([^"]+)"', body, re.M).group(1)
        deps = yaml.safe_load((path.parent / env_file).read_text())["dependencies"]
        packages = {re.split(r"[ =<>]", dep)[0] for dep in deps}
        for module in _third_party_imports((path.parent / script.group(1)).resolve()):
            providers = CONDA_PROVIDES.get(module, (module,))
            assert packages & set(providers), f"rule {name}: imports {module}, not in {env_file}"
        checked += 1
    assert checked >= 20
