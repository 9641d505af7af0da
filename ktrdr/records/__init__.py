"""The records of operations: the typed values that the domain builds and the wire carries.

    kinds      ``OperationType``, ``OperationStatus`` (no pydantic: the CLI imports them at start)
    models     ``Operation`` and its parts
    wire       ``WireRecord``, the base of every record read from a stored or sent dict
    results    what ``result_summary`` holds per kind
    research   a research cycle's statistics and candidates
    contexts   what ``progress.context`` holds per kind
    summary    a listing row (``OperationSummary``) and its ``Headline``

Both the domain (``ktrdr.operations``) and the wire contract (``ktrdr.contract``) import this
package; it imports nothing of ktrdr but ``ktrdr.errors``, so it sits below both.
"""
