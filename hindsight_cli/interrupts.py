"""Ctrl-C always ends the CLI within a second, with exit code 130 (issue 18).

Python turns SIGINT into a ``KeyboardInterrupt`` at whatever bytecode the main thread is
running. When that is between a library's ``lock.acquire()`` and the ``try`` that would release
it (httpcore's connection-pool lock, for one), the lock stays held, and any later call that takes
it blocks forever: closing the HTTP client on the way out did exactly that, and so does
httpcore's own clean-up of the interrupted request. Two defences:

- ``InterruptibleTransport`` sends each request and reads its body in a worker thread; the main
  thread only waits for it, so the interrupt lands in that wait, never inside httpcore. ``main``
  does not close the client after an interrupt either (the process ends anyway).
- ``install()`` is the guarantee for every lock we do not know about. It asks the interpreter
  to write each signal's number to a pipe as the signal arrives (``signal.set_wakeup_fd``, done
  by the C-level handler, before any Python code runs) and starts a daemon thread reading that
  pipe. After a SIGINT the thread gives the normal path ``GRACE_SECONDS`` to print its line and
  exit, then prints one line itself if none was printed and ends the process with
  ``os._exit(130)``. A second Ctrl-C ends it at once. The thread takes no lock the main thread
  could be holding: it only reads a pipe, writes to fd 2 and exits.
"""

from __future__ import annotations

import os
import select
import signal
import threading

import httpx

EXIT_INTERRUPTED = 130
GRACE_SECONDS = 0.5

_reported = [False]


def reported() -> None:
    """The normal path printed its own interrupt line: the watchdog must not add another."""
    _reported[0] = True


class InterruptibleTransport(httpx.BaseTransport):
    """Runs ``inner`` (an ``httpx.HTTPTransport``) in a daemon thread per request and returns
    the response fully read. Signals are delivered to the main thread only, so a Ctrl-C raises
    in ``join()`` here (which threading makes safe against interrupts, bpo-45274) and leaves
    the worker, and any lock it holds, alone."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        outcome: dict[str, object] = {}

        def send() -> None:
            try:
                response = self.inner.handle_request(request)
                try:
                    # Raw bytes: the client decodes Content-Encoding itself.
                    content = b"".join(response.iter_raw())
                finally:
                    response.close()
                outcome["response"] = httpx.Response(
                    response.status_code, headers=response.headers, content=content,
                    extensions=response.extensions, request=request,
                )
            except BaseException as exc:  # handed to the caller as it is
                outcome["error"] = exc

        worker = threading.Thread(target=send, name="http-request", daemon=True)
        worker.start()
        worker.join()
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["response"]  # type: ignore[return-value]

    def close(self) -> None:
        self.inner.close()


def install(grace: float = GRACE_SECONDS) -> None:
    """Arm the watchdog (main thread only: ``set_wakeup_fd`` requires it)."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(read_fd, grace), name="interrupt-watchdog",
                     daemon=True).start()


def _wait_for_sigint(read_fd: int, timeout: float | None) -> bool:
    while True:
        ready, _, _ = select.select([read_fd], [], [], timeout)
        if not ready:
            return False
        data = os.read(read_fd, 64)
        if not data:  # the write end is gone: the process is shutting down
            return False
        if signal.SIGINT in data:
            return True


def _watch(read_fd: int, grace: float) -> None:
    if not _wait_for_sigint(read_fd, None):
        return
    _wait_for_sigint(read_fd, grace)  # a second Ctrl-C cuts the grace short
    if not _reported[0]:
        os.write(2, b"interrupted\n")
    os._exit(EXIT_INTERRUPTED)
