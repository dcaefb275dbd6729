"""The load engine: a Locust child process (``child``), its parent (``runner``) and the channel
between them (``protocol``).

Importing this package must stay free of Django and Locust: the child imports it before it
monkey-patches with gevent, and Django/Celery processes import it without Locust.
"""
