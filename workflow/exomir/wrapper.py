"""Glue between Snakemake ``script:`` wrappers and the exomir package."""

from __future__ import annotations

import sys
import traceback
from typing import Any, Callable


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


def find_tools_beside_python() -> None:
    """Put the folder of the running Python first on PATH.

    Tools installed in the same environment as Snakemake (a virtualenv's
    cutadapt, umi_tools, multiqc) are then found by every job, even when that
    environment was not activated (``.venv/bin/snakemake ...``). Conda jobs
    (``--sdm conda``) put their own environment first, as usual.
    """
    import os
    from pathlib import Path

    here = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != here:
        os.environ["PATH"] = os.pathsep.join([here, path]) if path else here
