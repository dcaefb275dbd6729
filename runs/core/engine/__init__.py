"""The load engine's child side: the Locust child process (``child``), the channel between it
and its parent (``protocol``) and what the child uses (``merge``, ``pinning``,
``scenario_vars``). The parent side, which uses the ORM and Celery, is ``runs.engine``.

Importing this package must stay free of Django and Locust: the child imports it before it
monkey-patches with gevent, and Django/Celery processes import it without Locust.
"""
