"""Run a plan from CI and turn its outcome into an exit code and a JUnit report.

``runs.core.ci.driver`` waits for a run through a :class:`~runs.core.ci.driver.RunSource` and holds the
pure parts (progress lines, summary, exit code, JUnit XML); ``runs.services.ci`` is the source
that starts and reads runs in this installation's database; ``runs.core.ci.remote`` drives a remote
ScaleTest over its REST API with the same dict shapes.

This package and ``runs.core.ci`` import only the standard library (never Django): CI
machines run ``python3 -m runs.ci`` from a checkout without installing the project.
"""
