"""GitHub integration: a signed webhook that links pull requests to post-mortems
and action items by key (``PM-12``, ``AI-34``), keeps their state current and
closes an action item when a pull request that "fixes AI-34" merges.

Flow (GitHub's "Best practices for using webhooks"): the view verifies the
HMAC signature over the raw body, stores one ``WebhookDelivery`` row per
(hook id, ``X-GitHub-Delivery``) and answers 202 at once; a task processes the
row after commit, and a sweeper re-enqueues rows a broker outage left behind.
"""
