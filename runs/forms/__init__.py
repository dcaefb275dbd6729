"""Forms: validate what users type and explain what is wrong, field by field; one module per
resource (targets, scenarios, profiles, plans, runs, compare, teams, api_tokens, shares), shared
JSON fields in ``common``.

Forms never save; views hand ``cleaned_data`` to ``runs.services``.
"""
