"""The backend starts without scikit-learn: it is a second or more of imports that only a
training (or reading a trained model) needs, and every `ktrdr server start`, an autostart
included, used to pay it before it answered. Job processes still get it preloaded."""

from __future__ import annotations

import json
import subprocess
import sys


def _loaded(*modules: str) -> set[str]:
    probe = (
        f"import json, sys\nimport {', '.join(modules)}\nprint(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout))


def test_building_the_backend_loads_no_scikit_learn() -> None:
    loaded = _loaded("ktrdr.bootstrap", "ktrdr.api.app")
    assert "ktrdr.training.engine" in loaded  # the probe really reached the training code
    heavy = sorted(m for m in loaded if m.split(".")[0] in ("sklearn", "scipy"))
    assert not heavy, f"imported at backend start: {heavy[:5]}"


def test_the_job_processes_fork_server_preloads_what_a_training_uses() -> None:
    loaded = _loaded("ktrdr.jobs.process_preload")
    assert {"sklearn.neural_network", "sklearn.preprocessing"} <= loaded
