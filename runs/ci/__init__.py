"""Run a plan from CI and turn its outcome into an exit code and a JUnit report.

``runs.ci.driver`` waits for a run through a :class:`~runs.ci.driver.RunSource` and holds the
pure parts (progress lines, summary, exit code, JUnit XML); ``runs.ci.local`` is the source
that starts and reads runs in this installation's database; ``runs.ci.remote`` drives a remote
ScaleTest over its REST API with the same dict shapes.

This package, ``driver`` and ``remote`` import only the standard library (never Django): CI
machines run ``python3 -m runs.ci`` from a checkout without installing the project.
"""
