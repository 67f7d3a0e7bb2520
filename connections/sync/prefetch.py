"""Read the next pages while the current one is stored.

A provider's pages come over HTTP: while the platform prepares the next page, and
while the database writes this one (SQLite and psycopg release the GIL), a reader
thread fetches and parses ahead. At most `depth` pages wait in the queue, so memory
stays flat however large the data set.
"""

import queue
import threading

_PAGE, _END, _ERROR = "page", "end", "error"


class Prefetch:
    """Iterate `pages` (a provider's page iterator) from a reader thread, `depth` pages ahead.

    `prepare(page)`, when given, runs in the reader thread on each page, and the consumer
    gets what it returns. A failure in the reader is raised in the consumer, as it was
    raised. `close()` stops the reader after the page it is reading; the iterator is closed
    in its own thread.
    """

    def __init__(self, pages, depth=2, prepare=None):
        self._queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._prepare = prepare
        self._thread = threading.Thread(target=self._read, args=(pages,), name="pull-reader", daemon=True)
        self._thread.start()

    def _read(self, pages):
        try:
            for page in pages:
                if self._prepare is not None:
                    page = self._prepare(page)
                if not self._put((_PAGE, page)):
                    return
            self._put((_END, None))
        except BaseException as error:  # handed to the consumer, which decides
            self._put((_ERROR, error))
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()  # release the provider's HTTP session, in the thread that iterated it

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        while True:
            kind, value = self._queue.get()
            if kind == _PAGE:
                yield value
            elif kind == _END:
                return
            else:
                raise value

    def close(self, timeout=5):
        """Stop reading ahead. A request in flight finishes in the background (daemon thread)."""
        self._stop.set()
        self._thread.join(timeout=timeout)
