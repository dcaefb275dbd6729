"""Defence in depth around the pages: the client's address, token rate limits, request context.

The Content Security Policy is Django's own (settings.SECURE_CSP); sign-in lockouts are
django-axes (settings.AXES_*); the audit trail is ``runs.services.audit``.
"""
