"""Receiving Flinks webhooks: one module per step, in the order a request meets them.

``storage``       read the body within its limit, redact the headers, insert the delivery row first
``verification``  signature over the raw body (every configured secret, the accepted header forms), max age
``envelope``      parse ``{"when", "type", "payload"}`` (seven fractional digits in ``when``)
``processing``    apply the status through the services under a row lock; store the outcome; signal
``views``         the endpoint, ``flinks_sessions:webhook``

Nothing here is imported by this package itself, so importing ``flinks_sessions.webhooks.envelope`` (the
sandbox, the test helpers) does not load models.
"""
