"""Save-time checks of a locustfile's source, pure: it is compiled and read, never run.

The Locust child is where the file really runs (``runs.core.engine.child.load_locustfile``) and
where a missing User class or a bad import is found for sure; this catches what can be told
without executing anything, so the form can say it at once.
"""

from __future__ import annotations

import ast

MAX_LOCUSTFILE_CHARS = 200_000


def locustfile_problems(source: str) -> list[str]:
    """Messages for the user; empty when nothing is wrong that can be seen without running it."""
    if not source.strip():
        return ["Write the locustfile: at least one HttpUser or FastHttpUser subclass with a task."]
    if len(source) > MAX_LOCUSTFILE_CHARS:
        return [f"The locustfile is longer than {MAX_LOCUSTFILE_CHARS:,} characters."]
    if "\x00" in source:
        return ["The locustfile contains a NUL character."]
    try:
        tree = compile(source, "<locustfile>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        return [f"Syntax error on line {exc.lineno}: {exc.msg}."]
    problems = []
    classes = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]

    def base_names(node: ast.ClassDef) -> list[str]:
        return [
            b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else ""
            for b in node.bases
        ]

    shapes = [c.name for c in classes if "LoadTestShape" in base_names(c)]
    if shapes:
        problems.append(
            f"Remove the LoadTestShape class ({', '.join(shapes)}): "
            "the load comes from the test plan's profile."
        )
    if not any(any(name.endswith("User") for name in base_names(c)) for c in classes):
        problems.append("Define at least one User class, e.g. class Shopper(HttpUser): with a @task method.")
    return problems
