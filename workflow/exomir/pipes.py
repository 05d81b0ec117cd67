"""Commands connected by pipes, with the last one's output consumed in this process.

Used by every trimming path (:mod:`exomir.preprocess`): the streams between
cutadapt passes (and umi_tools) never touch the disk. A ``feed`` (byte
chunks) is written to the first command's standard input by a thread, so that
reading the last command's output cannot deadlock with writing the input.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import IO, TypeVar

T = TypeVar("T")


class ChainError(RuntimeError):
    """A command of a chain failed; the message is its last error line from the log."""


def _write_all(pipe: IO[bytes], feed: Iterable[bytes]) -> None:
    # a command that stops early breaks the pipe; its exit status tells why
    with contextlib.suppress(BrokenPipeError):
        try:
            for chunk in feed:
                pipe.write(chunk)
        finally:
            pipe.close()


def run_chain(
    commands: Sequence[Sequence[str]],
    log_handle: IO[str],
    consume: Callable[[IO[bytes]], T],
    feed: Iterable[bytes] | None = None,
) -> T:
    """Run ``commands`` connected by pipes; return ``consume`` of the last one's output.

    Standard error of every command goes to ``log_handle``. Raises
    :class:`ChainError` when a command exits with an error.
    """
    procs: list[subprocess.Popen] = []
    upstream = subprocess.PIPE if feed is not None else None
    for cmd in commands:
        proc = subprocess.Popen(cmd, stdin=upstream, stdout=subprocess.PIPE, stderr=log_handle)
        if procs and upstream is not None:
            upstream.close()  # the downstream process owns the pipe now
        upstream = proc.stdout
        procs.append(proc)
    writer = None
    if feed is not None:
        writer = threading.Thread(target=_write_all, args=(procs[0].stdin, feed), daemon=True)
        writer.start()
    assert upstream is not None
    try:
        result = consume(upstream)
    finally:
        upstream.close()
        if writer is not None:
            writer.join()
        codes = [proc.wait() for proc in procs]
    failed = [(cmd, code) for cmd, code in zip(commands, codes) if code != 0]
    if failed:
        log_handle.flush()
        detail = _last_error_line(log_handle.name) or f"{failed[0][0][0]} exited {failed[0][1]}"
        raise ChainError(detail.strip())
    return result


def _last_error_line(log_path: str) -> str:
    with open(log_path) as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    errors = [line for line in lines if "rror" in line]
    return (errors or lines or [""])[-1]
