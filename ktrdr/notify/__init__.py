"""Webhooks: a signed POST to each configured receiver when a root operation or a
``--count`` batch of research cycles ends.

The notifier listens to the operations service like any reader (``add_listener``); the
service knows nothing of it. Ends become deliveries in a store of their own
(``DeliveryStore``, SQLite in ``ktrdr.storage.deliveries``), and deliveries are sent by the
notifier's own threads through a ``WebhookSender`` (httpx in
``ktrdr.notify.http_sender``), never under the service's lock: a slow or dead receiver
costs the service nothing.
"""
