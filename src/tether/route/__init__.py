"""Which model answers and how its calls survive: the model registry, the router, budgets, and
retries / fallback / circuit breakers around any :class:`~tether.generate.base.Generator`."""
