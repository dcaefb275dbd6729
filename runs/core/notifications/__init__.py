"""Notifications of ended runs, Django-free parts.

* ``payloads``  the facts of an event, rendered as a generic JSON body, a Slack message or a
                Microsoft Teams card, an e-mail subject and text; the HMAC signature of a body
                and its check (for receivers, and for our tests).
* ``http``      one POST to a checked, pinned address: no redirects, a short timeout, a
                bounded read.

``runs.services.notifications`` decides which events a run raises, records deliveries and
their attempts; ``runs.tasks.deliver_notification`` retries with backoff.
"""
