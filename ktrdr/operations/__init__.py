"""The domain of long work: the operations service, its ports (the store, the executor),
progress and cancellation. The records it keeps are in ``ktrdr.records``; the adapters that
implement its ports are in ``ktrdr.storage`` and ``ktrdr.executors``, which it never imports.

Import the module you need (``ktrdr.operations.service``, ...): this package imports nothing
itself, so a reader of one module does not load the service.
"""
