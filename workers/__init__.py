"""RQ job functions and the worker process that runs them. Thin: they call into ``timeline``."""
