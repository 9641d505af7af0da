"""The executors: how a job for an operation runs, each implementing the domain's
``ktrdr.operations.execution.Executor``.

    thread       ``LocalExecutor``: a thread pool in the backend process
    process      ``ProcessExecutor``: one forked process per job, killable on cancel
    job_threads  the cap on a job's BLAS/OpenMP threads, shared by thread and process
    dask         ``DaskExecutor``: jobs on a Dask cluster (the optional ``dask`` extra)

The domain never imports this package; the composition root (``ktrdr.bootstrap``) picks one.
"""
