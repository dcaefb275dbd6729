"""The Django-free side of running a plan from CI: ``driver`` (waiting, progress lines, exit
code, JUnit XML) and ``remote`` (a remote ScaleTest over its REST API). Standard library only,
so ``python3 -m runs.ci`` runs from a checkout without installing the project."""
