"""Glue between Snakemake ``script:`` wrappers and the exomir package."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run(main: Callable[[Any], None], smk: Any) -> None:
    """Run ``main(snakemake)``; user errors end the job with one clear message.

    ``ValueError`` and ``RuntimeError`` raised by exomir carry a message that
    names the sample, the file and the fix: it goes to the rule's log and to
    stderr (which Snakemake shows), without a traceback. Other exceptions keep
    their traceback in the log.
    """
    log_path = smk.log[0] if len(smk.log) else None
    try:
        main(smk)
    except (ValueError, RuntimeError) as error:
        message = f"exomir error in rule {smk.rule}: {error}"
        if log_path:
            with open(log_path, "a") as log:
                log.write(message + "\n")
        print(message, file=sys.stderr)
        sys.exit(1)
    except Exception:
        if log_path:
            with open(log_path, "a") as log:
                traceback.print_exc(file=log)
        raise


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
