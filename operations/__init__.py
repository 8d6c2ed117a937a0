"""Running the knowledge base in production: health and readiness endpoints,
structured request logs with request ids, and the client address behind a proxy.

Nothing here knows about post-mortems; it is the wiring an operator needs
(docs/deployment.md).
"""
