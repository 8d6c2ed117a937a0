"""REST API for the post-mortem knowledge base, mounted under /api/v1/."""
