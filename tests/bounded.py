"""Run pure work in a forked child with a deadline, so that code which would hang fails a
test instead of stalling the whole suite. A guard against unbounded work, not a speed test:
the deadline is generous and only a pathological slowdown reaches it.

The child inherits the parent's memory (compiled rules, the route table) and must not
touch the database: load what it needs in the test first, then hand over a function.
"""

import multiprocessing
import traceback
import warnings
from collections.abc import Callable
from typing import Any

DEADLINE_SECONDS = 20.0


class Hung(AssertionError):
    """The work did not finish before the deadline (the child was killed)."""


def _child(connection, work: Callable[[], Any]) -> None:
    try:
        connection.send(("ok", work()))
    except BaseException:  # report any failure to the parent, then exit
        connection.send(("error", traceback.format_exc()))
    finally:
        connection.close()


def run_bounded(work: Callable[[], Any], seconds: float = DEADLINE_SECONDS) -> Any:
    """Return work()'s (picklable) result, or raise Hung if it takes longer than `seconds`."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(sender, work), daemon=True)
    with warnings.catch_warnings():
        # The child runs only `work` (no locks, no threads, no database), then _exit()s.
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        child.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            raise Hung(f"still running after {seconds:.0f} s")
        status, value = receiver.recv()
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        receiver.close()
    if status == "error":
        raise AssertionError("the bounded work failed:\n" + value)
    return value
