"""Content-Security-Policy exceptions for the two API documentation pages.

The site-wide policy (``CONTENT_SECURITY_POLICY`` in kb/settings.py) allows no
inline style. The third-party documentation UIs need a little more, so each
page loosens the policy for itself only (django-csp's ``csp_update``):

- Swagger UI (drf-spectacular's split view: its start-up script is a file,
  ``?script``) draws its icons as ``data:`` images from its stylesheet.
- ReDoc builds its styles at run time (styled-components inserts ``<style>``
  elements), so it needs ``style-src 'unsafe-inline'``; it also draws ``data:``
  icons and runs its search in a ``blob:`` worker.

Scripts stay ``'self'`` on both: no ``'unsafe-inline'``/``'unsafe-eval'`` for
script-src anywhere. Our own templates under templates/drf_spectacular/ replace
the packaged ones only to move their inline ``<style>`` into a static file and
to drop ReDoc's Google Fonts link (no third-party requests from readers).
"""

from csp.decorators import csp_replace, csp_update

docs_csp = csp_update({"img-src": ["data:"]})


def redoc_csp(view):
    """ReDoc's exception; its img-src also drops https: so its "powered by" logo
    is not fetched from a CDN (no third-party request from readers)."""
    view = csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]})(view)
    return csp_replace({"img-src": ["'self'", "data:"]})(view)
