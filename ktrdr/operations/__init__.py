"""The domain of long work: operations, their store, service, progress and cancellation.

Import the module you need (``ktrdr.operations.models``, ``...service``): this package
imports nothing itself, so a reader of the models (the client, the CLI) does not load the
service, the stores and SQLite.
"""
