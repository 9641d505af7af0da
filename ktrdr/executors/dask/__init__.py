"""Running jobs on a Dask cluster: the pieces behind ``ktrdr.executors.dask.executor``.

    connection  the backend's Dask client: connect (a scheduler address or the local cluster),
                TLS, reconnect on demand, and a cached view of the workers for /health
    local       the backend's own cluster (``local:N``): worker processes on loopback TLS
                under a certificate made as it starts, no HTTP server unless asked
    cargo       what travels with a job (its bars, in memory) and what comes back (the
                files it wrote, stored under the backend's own directories)
    task        the worker side: the Dask task that runs a job with a throttled progress
                reporter and a cancel token that reads a Dask ``Event``

Everything here needs the optional ``dask`` extra (``pip install 'ktrdr[dask]'``).
"""
