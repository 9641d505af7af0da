"""What the process executor's fork server loads once, so each job process starts warm.

A job process is a fork of the fork server: whatever the server imported is already there.
Measured on 2 cores: without this module a job process spent ~120-200 ms importing the
executor's own module (the code it runs first) and ~30 ms scanning the BLAS/OpenMP
libraries for the thread cap, before its job's first line ran.
"""

from __future__ import annotations

# The training modules import scikit-learn where they use it (the backend itself starts
# without it); a job process must find it loaded, so it is imported here.
import sklearn.neural_network  # noqa: F401
import sklearn.preprocessing  # noqa: F401

import ktrdr.backtesting.job  # noqa: F401
import ktrdr.executors.process  # noqa: F401
import ktrdr.logging  # noqa: F401
import ktrdr.training.job  # noqa: F401
from ktrdr.executors.job_threads import warm_up

# The library scan the thread cap needs, done here once instead of in every job process.
warm_up()
