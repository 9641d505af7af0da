"""The BLAS/OpenMP thread cap every training and backtest runs under (``Settings.job_threads``).

numpy's BLAS and scikit-learn's OpenMP size their thread pools to every core, so a single
job would keep all cores busy and the API would wait for one. threadpoolctl resizes the
pools of libraries already loaded (environment variables such as ``OMP_NUM_THREADS`` are
read once, when a library loads: too late in the backend, and too late in a process
executor's worker too, whose fork server preloads numpy and scikit-learn). The two kinds of
pool have different scopes, which decides where the cap is applied:

* BLAS (OpenBLAS): one setting for the whole process. Every job applies the same value and
  nothing is restored when a job ends, so concurrent thread jobs never undo each other's
  cap; each BLAS call uses at most ``threads``, so W jobs at once may use W x ``threads``
  (and the backend's own numpy shares the cap, which it never needs more than).
* OpenMP: per calling thread. So the cap is applied in the thread that runs the job, at
  the start of every job (microseconds once the libraries are known).
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_controller: Any = None  # a threadpoolctl.ThreadpoolController, built on first use


def cap_job_threads(threads: int | None) -> None:
    """Limit BLAS (process-wide) and OpenMP (this thread) to ``threads``; None: no cap.

    The first call scans the loaded libraries (~20 ms); later calls cost microseconds.
    Call it in the thread (and process) that runs the job.
    """
    if threads is None:
        return
    _libraries().limit(limits=threads)


def warm_up() -> None:
    """Scan the loaded libraries now (a process that forks job processes does it once)."""
    _libraries()


def _libraries() -> Any:
    global _controller
    with _lock:
        if _controller is None:
            # Imported here, at the first job: the operations package stays light to import.
            # numpy and scikit-learn (which every job computes with) load their BLAS and
            # OpenMP libraries on import; the scan below only sees libraries already loaded.
            import numpy  # noqa: F401
            import sklearn  # noqa: F401
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
        return _controller
