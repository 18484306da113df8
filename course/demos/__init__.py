"""The live demos of the course's chapters, as small labs on the lab runtime.

Each module builds :class:`~labs.runtime.lab.Lab` objects (nodes, clients, workload) that run on the
simulator like any lab (``labs.run(lab, "sim", schedule, seed)``), plus the schedules and the
measurements its chapter needs. Measurements read a run's trace or history only.

Chapter 0, "why distributed systems are different":

* :mod:`.replicas`: writing to two machines, with and without resending; a register kept on two
  machines the available way or the consistent way (CAP).
* :mod:`.generals`: the two generals over a lossy valley.
* :mod:`.search`: a front end fanning out to backends, one of them slow; deadlines and partial
  answers; log lines against metrics.
* :mod:`.queues`: one server under more load than it can take, with and without a bound on its
  queue.
* :mod:`.retries`: clients resending on a fixed timer or with exponential back-off while the
  server pauses.
* :mod:`.measure`, :mod:`.charts`: percentiles, rates and backlogs from traces; tables and SVG
  line charts for notebooks.
"""

from . import charts, generals, measure, queues, replicas, retries, search, views
from .charts import LineChart, Table, table_of

__all__ = ["LineChart", "Table", "charts", "generals", "measure", "queues", "replicas", "retries",
           "search", "table_of", "views"]
