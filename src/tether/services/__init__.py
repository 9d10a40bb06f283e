"""The services the edges call (``api/``, ``cli/``, ``ui/`` reach data only through these).

Each service holds one area's rules and every permission decision in it, taking the acting
:class:`~tether.types.Principal` explicitly (the CLI's operator is ``Principal.system()``);
SQL stays in ``store/``, which the services call inside the transactions they open. The engine
exposes one instance of each (``engine.documents``, ``engine.ingest``, ``engine.accounts``,
``engine.usage``, ``engine.audit``, ``engine.traces``, ``engine.evaluations``,
``engine.operations``, and the review queue's ``engine.reviews`` from ``review/service.py``).
"""
