"""The composition root: how every Chronicle process builds its container (bootstrap.py), what
the container holds (container.py), the background jobs (jobs.py) and the worker (worker.py).

Import from the modules: this package imports nothing, so that a module needing only the
Container type does not build the whole import graph."""
