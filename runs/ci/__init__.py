"""Run a plan from CI and turn its outcome into an exit code and a JUnit report.

``runs.ci.driver`` waits for a run through a :class:`~runs.ci.driver.RunSource` and holds the
pure parts (progress lines, summary, exit code, JUnit XML); ``runs.ci.local`` is the source
that starts and reads runs in this installation's database. A source that drives a remote
ScaleTest over HTTP implements the same four methods with the same dict shapes.
"""
