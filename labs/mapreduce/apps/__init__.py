"""MapReduce applications, one module each (see :mod:`labs.mapreduce.mr` for what a module holds).

``wc`` and ``indexer`` are real jobs. ``crash``, ``slow``, ``early_exit``, ``parallel``, ``paced``
and ``bulky`` misbehave on purpose, for the tests: they crash workers, straggle, idle the other
workers, watch how many tasks run at once, make every map slow, or write big outputs.
"""
