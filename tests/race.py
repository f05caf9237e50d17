"""Two (or more) calls at the same moment, each on its own database connection: the insider's
"two requests at once", for tests that a lock or a constraint decides who wins."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

Errors = type[BaseException] | tuple[type[BaseException], ...]


def race(*calls: Callable[[], Any], catch: Errors = Exception) -> list[Any]:
    """Run the calls at the same moment on their own connections; return each one's result, or the
    error it raised when that error is one of `catch`. Any other error is raised here, after all
    calls ended (a thread's own exception would otherwise be lost)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    unexpected: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except catch as error:
            results[index] = error
        except BaseException as error:  # handed to the test's thread below
            unexpected.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if unexpected:
        raise unexpected[0]
    return results
