"""The storage adapters: where operations are kept, behind the domain's port
``ktrdr.operations.store.OperationStore``.

    sqlite_store  ``SqliteOperationStore``: one SQLite file, the listing columns beside the body
    write_behind  ``WriteBehindStore``: a memory front that writes to a slower store later
    owner_lock    the lock file that keeps a second backend off the same database

The domain never imports this package; the composition root (``ktrdr.bootstrap``) builds it.
"""
