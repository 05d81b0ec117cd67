"""The pinned versions of the two software sets, and where they disagree.

``requirements.txt`` (the workstation set, ``make setup``) is the source of truth;
every ``envs/*.yaml`` (conda, one environment per rule) must pin the same version
of every package both name. Conda names that differ from PyPI's are mapped
(``matplotlib-base`` is ``matplotlib``, ``umi_tools`` is ``umi-tools``).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

CONDA_TO_PYPI = {"matplotlib-base": "matplotlib", "umi_tools": "umi-tools"}
PIN = re.compile(r"^([A-Za-z0-9_.-]+)\s*==?\s*([0-9][0-9A-Za-z.*+-]*)$")


def _normalise(name: str) -> str:
    return CONDA_TO_PYPI.get(name, name).lower().replace("_", "-")


def requirement_pins(path: str | Path) -> dict[str, str]:
    """name → version of every ``name==version`` line of a requirements file."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        match = PIN.match(line.split("#", 1)[0].strip())
        if match:
            pins[_normalise(match.group(1))] = match.group(2)
    return pins


def conda_env_pins(folder: str | Path) -> dict[Path, dict[str, str]]:
    """env file → {name: version} of its pinned dependencies, in file order."""
    envs = {}
    for env in sorted(Path(folder).glob("*.yaml")):
        deps = yaml.safe_load(env.read_text())["dependencies"]
        envs[env] = {
            _normalise(m.group(1)): m.group(2)
            for m in (PIN.match(str(d).strip()) for d in deps)
            if m
        }
    return envs


def disagreements(requirements: str | Path, folder: str | Path) -> list[str]:
    """One line per package whose conda pin differs from requirements.txt."""
    wanted = requirement_pins(requirements)
    return [
        f"{env.name}: {name} ={version}, requirements.txt has {wanted[name]}"
        for env, pins in conda_env_pins(folder).items()
        for name, version in pins.items()
        if name in wanted and wanted[name] != version
    ]
