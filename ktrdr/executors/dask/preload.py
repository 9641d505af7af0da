"""Give ``dask scheduler`` and ``dask worker`` this module as ``--preload`` to import
ktrdr's task and engines at start-up instead of on the first job.

The scheduler unpickles a task's function (``ktrdr.executors.dask.task.run_on_worker``) and a
worker imports the engines when it unpickles its first job: on a busy machine either can
hold a process's event loop for seconds, late in a job's life. Importing them here moves
that wait to start-up, before the process takes work.
"""

from __future__ import annotations

import ktrdr.backtesting.job
import ktrdr.executors.dask.task
import ktrdr.training.job

PRELOADED = (ktrdr.executors.dask.task, ktrdr.training.job, ktrdr.backtesting.job)
