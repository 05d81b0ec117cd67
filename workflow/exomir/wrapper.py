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
