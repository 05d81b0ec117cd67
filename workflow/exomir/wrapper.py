"""Glue between Snakemake ``script:`` wrappers and the exomir package."""

from __future__ import annotations

import os
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO


def run(main: Callable[[Any, TextIO], None], smk: Any) -> None:
    """Run ``main(snakemake, log)`` with the rule's first log open for writing.

    Warnings of exomir and of the libraries it calls (PyDESeq2, pandas) go to that
    log, not to the console. ``ValueError`` and ``RuntimeError`` raised by exomir
    carry a message that names the sample, the file and the fix: it goes to the log
    and to stderr (which Snakemake shows), without a traceback, and the job fails.
    Other exceptions keep their traceback in the log.
    """
    with open(smk.log[0], "w") as log:
        previous = warnings.showwarning
        warnings.showwarning = _to_log(log)
        try:
            main(smk, log)
        except (ValueError, RuntimeError) as error:
            message = f"exomir error in rule {smk.rule}: {error}"
            log.write(message + "\n")
            print(message, file=sys.stderr)
            sys.exit(1)
        except Exception:
            traceback.print_exc(file=log)
            raise
        finally:
            warnings.showwarning = previous


def _to_log(log: TextIO):
    def show(message, category, filename, lineno, file=None, line=None):
        log.write(f"{category.__name__}: {message}\n")
        log.flush()

    return show


def prepare_job_environment() -> None:
    """Make every job find exomir's tools and package, activated environment or not.

    The folder of the running Python goes first on PATH, so that tools installed in
    the same environment as Snakemake (a virtualenv's cutadapt, umi_tools, multiqc)
    are found even when that environment was not activated
    (``.venv/bin/snakemake ...``); conda jobs (``--sdm conda``) put their own
    environment first, as usual. The folder holding the ``exomir`` package goes
    first on PYTHONPATH, so that ``script:`` jobs import it in any environment,
    conda's included, without installing it there.
    """
    _prepend("PATH", str(Path(sys.executable).parent))
    _prepend("PYTHONPATH", str(Path(__file__).resolve().parents[1]))


def _prepend(variable: str, folder: str) -> None:
    current = os.environ.get(variable, "")
    if current.split(os.pathsep)[0] != folder:
        os.environ[variable] = os.pathsep.join([folder, current]) if current else folder
