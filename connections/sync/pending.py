"""Pages read but not saved yet: a pull's pages saved a few at a time (see pulls.py).

What is written, and how, is store.py's; this module only gathers the pages between saves.
"""

from django.db import transaction

from .store import PageResult


class PendingPages:
    """Pages compared but not written yet: written together, with their progress, in one transaction.

    The sync engine saves a pull's pages a few at a time (`pulls._PullRun`): every
    transaction costs a commit (on PostgreSQL a WAL flush, on SQLite its B-tree pages
    written again) and the pull's progress row, whether it carries one page or five. The
    counts of the pages pending are saved in the transaction that writes their records,
    so a crash leaves whole saves and counts that match them, and an exception from
    `save_progress` (the pull was cancelled) rolls every page pending back.
    """

    def __init__(self, store):
        self.store = store
        self._clear()

    def _clear(self):
        self.rows, self.rehash, self.pages = [], [], 0
        self.result = PageResult()

    def add(self, page) -> PageResult:
        """Compare one page (reads only) and keep what it has to write; returns its counts."""
        result, rows, rehash = self.store.compare(page)
        self.rows += rows
        self.rehash += rehash
        self.pages += 1
        total = self.result
        total.fetched += result.fetched
        total.created += result.created
        total.updated += result.updated
        total.unchanged += result.unchanged
        return result

    def save(self, save_progress):
        """Write the pending pages and `save_progress(counts, pages)` together; nothing when none.

        Pages with nothing to write save their progress alone, without a write transaction.
        """
        if not self.pages:
            return
        store = self.store
        if self.rows or self.rehash:
            with transaction.atomic(using=store.db.alias):
                store.write(self.rows)
                if self.rehash:  # the same records in other bytes (say, after an upgrade): recognised next time
                    store.rehash(self.rehash)
                save_progress(self.result, self.pages)
        else:
            save_progress(self.result, self.pages)
        self._clear()


def upsert_page(store, page, save_progress) -> PageResult:
    """Store one page and its progress together (PendingPages for a single page)."""
    pending = PendingPages(store)
    result = pending.add(page)
    pending.save(save_progress)
    return result
