"""Reading the database in this thread while a second one builds and writes the file.

An export alternates between waiting for the database and turning rows into bytes; done one
after the other, the two add up. Here the calling thread reads chunks (every query, and the
heartbeat, stay on its connection, so a build inside a transaction sees that transaction's
rows) and hands them over; a builder thread turns them into rows, serialises, hashes and writes
them. Python releases the GIL while the reader waits on the socket, so the builder runs then.
The hand-over queue holds at most ``DEPTH`` chunks, so memory stays bounded whatever the row
count. An error on either side stops both and is raised in the calling thread.
"""

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

DEPTH = 1
WAIT_SECONDS = 0.2
_END = object()


class _BuilderThread(threading.Thread):
    def __init__(self, consume: Callable[[Iterable[Any]], None]) -> None:
        super().__init__(name="export-builder", daemon=True)
        self.handoff: queue.Queue[Any] = queue.Queue(maxsize=DEPTH)
        self.consume = consume
        self.failure: BaseException | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            self.consume(self._chunks())
        except BaseException as exc:  # handed to the reading thread
            self.failure = exc
            while self.handoff.get() is not _END:  # let the reader finish its hand-overs
                pass

    def _chunks(self) -> Iterator[Any]:
        while (chunk := self.handoff.get()) is not _END:
            if self.stopped.is_set():
                raise RuntimeError("the export was stopped")
            yield chunk

    def hand_over(self, chunk: Any, on_wait: Callable[[], None] | None) -> None:
        """Queue a chunk, waiting for room (calling ``on_wait`` now and then); raises the
        builder's error if it failed."""
        while True:
            if self.failure is not None and chunk is not _END:
                raise self.failure
            try:
                self.handoff.put(chunk, timeout=WAIT_SECONDS)
                return
            except queue.Full:
                if not self.is_alive():
                    raise RuntimeError("the export's builder thread stopped") from self.failure
                if on_wait is not None:
                    on_wait()


def build_in_thread(
    chunks: Iterable[Any],
    consume: Callable[[Iterable[Any]], None],
    on_wait: Callable[[], None] | None = None,
) -> None:
    """``consume(chunks)``, with ``consume`` running in a builder thread and ``chunks`` read
    here; ``on_wait`` is called here every ``WAIT_SECONDS`` while waiting for the builder.
    Returns when everything is consumed; raises the first error of either side, after the
    builder has stopped."""
    builder = _BuilderThread(consume)
    builder.start()
    ended = False
    try:
        for chunk in chunks:
            builder.hand_over(chunk, on_wait)
        builder.hand_over(_END, on_wait)
        ended = True
        while builder.is_alive():
            builder.join(WAIT_SECONDS)
            if on_wait is not None and builder.is_alive():
                on_wait()
    except BaseException:
        builder.stopped.set()
        if not ended and builder.is_alive():
            builder.hand_over(_END, None)
        builder.join()
        raise
    if builder.failure is not None:
        raise builder.failure
