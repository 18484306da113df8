"""The student loop stays light: the node API, the simulator and the schedules import neither Ray
nor Jupyter, so that they start fast and can run in a browser (Pyodide) some day."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import labs
from labs.runtime.sim import run_sim
result = labs.run("demo", runtime="sim", schedule="lossy", seed=1)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("ray", "jupyter", "ipywidgets", "IPython"))
print(",".join(heavy))
"""


def test_a_simulated_run_imports_no_ray_and_no_jupyter() -> None:
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
