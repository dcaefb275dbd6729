"""Request and response bodies, one module per resource. The OpenAPI document is generated from
these, and the same classes validate what comes in, so the document describes what the server
accepts.

Shapes and types are checked here (a wrong type is a 422 from ninja); the rules the pages
enforce (safe base URLs, step paths, status ranges, profile limits, same-team parts) are
checked by the same forms and functions the pages use, in the resource modules.
"""
