"""One source of truth for versions: the conda environments pin what requirements.txt pins."""

from conftest import REPO
from exomir.pins import conda_env_pins, disagreements, requirement_pins


def test_conda_envs_pin_the_versions_of_requirements_txt():
    assert disagreements(REPO / "requirements.txt", REPO / "envs") == []


def test_the_comparison_sees_the_packages_of_every_env():
    wanted = requirement_pins(REPO / "requirements.txt")
    envs = conda_env_pins(REPO / "envs")
    shared = {name for pins in envs.values() for name in pins if name in wanted}
    # the Python packages the rules run are all compared (conda names mapped to PyPI's)
    assert {
        "pandas",
        "pydeseq2",
        "pysam",
        "matplotlib",
        "mirtop",
        "umi-tools",
        "cutadapt",
    } <= shared


def test_a_disagreement_is_reported(tmp_path):
    (tmp_path / "requirements.txt").write_text("pandas==2.3.3\n")
    envs = tmp_path / "envs"
    envs.mkdir()
    (envs / "x.yaml").write_text("channels: [conda-forge]\ndependencies:\n  - pandas =2.2.3\n")
    assert disagreements(tmp_path / "requirements.txt", envs) == [
        "x.yaml: pandas =2.2.3, requirements.txt has 2.3.3"
    ]
