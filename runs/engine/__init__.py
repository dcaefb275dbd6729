"""The load engine's parent side, run inside Celery tasks: the run's parent (``runner``), a
generator of a distributed run (``generator``), the supervision both share (``supervision``)
and the sweep for lost runs (``reaper``). The Locust child and the channel to it live in the
Django-free ``runs.core.engine``.

Importing this package must stay free of Locust.
"""
