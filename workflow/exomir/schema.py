"""The config schema: the one place where every setting's default lives.

:func:`validate_config` checks a config against ``workflow/schemas/config.schema.yaml``
and fills in the defaults, as Snakemake's ``validate`` does, but reports each problem
in one line that names the key and the fix (an unknown key gets the closest valid
one) instead of printing the whole schema. :func:`default_config` gives the defaults
alone (for tests and the documentation); :func:`markdown_keys` the table of every key
in ``config/README.md``.
"""

from __future__ import annotations

import copy
import difflib
import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The config is invalid; the message names the key and the fix."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    """The schema (a fresh copy: validation must not change the cached one)."""
    return copy.deepcopy(_parsed(str(path)))


@functools.lru_cache
def _parsed(path: str) -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present
    with open(path) as handle:
        return yaml.load(handle, Loader=loader)


def _validator_class():
    """Draft 2020-12 validator that fills in defaults while it validates."""
    from jsonschema import Draft202012Validator, validators

    check_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(key, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})


def validate_config(config: dict, schema: Mapping | None = None) -> dict:
    """Check ``config`` in place against the schema and fill in the defaults.

    Raises :class:`ConfigError` with one line per problem.
    """
    schema = schema or load_schema()
    validator = _validator_class()(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path)))
    if errors:
        raise ConfigError("\n".join(_describe(error, schema) for error in errors[:5]))
    return config


def default_config(schema: Mapping | None = None) -> dict:
    """Every setting at its default (``samples`` empty)."""
    return validate_config({}, schema)


def _describe(error, schema: Mapping) -> str:
    """One line for a schema error: the key, what is wrong, the fix."""
    where = ".".join(str(p) for p in error.path)
    if error.validator == "additionalProperties":
        allowed = list(_subschema(schema, error.path).get("properties", {}))
        unknown = [k for k in error.instance if k not in allowed]
        return "; ".join(_unknown_key(where, key, allowed) for key in unknown)
    shown = where or "(top level)"
    return f"config key '{shown}': {error.message}; see config/README.md for its allowed values"


def _unknown_key(where: str, key: str, allowed: list[str]) -> str:
    full = f"{where}.{key}" if where else key
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"did you mean '{(where + '.') if where else ''}{close[0]}'?" if close else ""
    listed = f"valid keys{' under ' + where if where else ''}: {', '.join(allowed)}"
    return f"config key '{full}' is not known; {hint or listed}"


def _subschema(schema: Mapping, path) -> Mapping:
    """The schema of the object at ``path`` (list indices step into ``items``)."""
    node = schema
    for part in path:
        node = node["items"] if isinstance(part, int) else node["properties"][part]
    return node


def iter_keys(schema: Mapping, prefix: str = "") -> Iterator[tuple[str, Mapping]]:
    """(dotted key, subschema) of every leaf setting, in schema order."""
    for key, sub in schema.get("properties", {}).items():
        name = f"{prefix}{key}"
        if sub.get("type") == "object" and "properties" in sub:
            yield from iter_keys(sub, name + ".")
        else:
            yield name, sub


def markdown_keys(schema: Mapping | None = None) -> str:
    """The table of every key, its default and meaning, as in config/README.md."""
    schema = schema or load_schema()
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    for name, sub in iter_keys(schema):
        default = _format_default(sub.get("default", ""))
        text = " ".join(str(sub.get("description", "")).split())
        if "enum" in sub:
            text += f" One of: {', '.join(f'`{v}`' for v in sub['enum'])}."
        lines.append(f"| `{name}` | {default} | {text} |")
    return "\n".join(lines) + "\n"


def _format_default(value: Any) -> str:
    if value == "" or value is None:
        return '`""`'
    return f"`{yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}`"


START, END = "<!-- keys:start", "<!-- keys:end -->"


def readme_with_keys(text: str, schema: Mapping | None = None) -> str:
    """``text`` (config/README.md) with the generated table between its key markers."""
    head, rest = text.split(START, 1)
    marker_line, _, tail = rest.partition("\n")
    _, _, after = tail.partition(END)
    table = markdown_keys(schema)
    return f"{head}{START}{marker_line}\n\n{table}\n{END}{after}"


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Write the table of every config key.")
    parser.add_argument("readme", help="config/README.md, rewritten between its key markers")
    path = Path(parser.parse_args(argv).readme)
    path.write_text(readme_with_keys(path.read_text()))


if __name__ == "__main__":
    main()
