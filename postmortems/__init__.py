"""The post-mortem domain app: documents, action items, factors, search, import."""
