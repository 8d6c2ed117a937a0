"""On PostgreSQL, ``pm_started_idx`` also carries the columns the visibility filter reads.

"This factor has happened before" (``patterns.selectors.factor_history``) reads
every earlier document that shares a factor: ~30,000 at 100k documents. With the
INCLUDE columns it reads them from the index alone (an index-only scan) instead of
from the rows, which carry the ~3.3 kB search tsvector since migration 0008:
240 ms became 82-140 ms at 100k (docs/benchmarks.md, session 9). The model
declares the plain index (``PostMortem.Meta.indexes``), which is what SQLite gets:
a model-level ``include`` would raise Django's models.W040 there, and the project
silences no system check. Writes to post-mortems wait while the index is built
(about a second per 100,000 documents).
"""

from django.db import migrations

TABLE = "postmortems_postmortem"
PG_STARTED_INDEX_COVERING = (
    f"CREATE INDEX pm_started_idx ON {TABLE} (started_at DESC, id DESC) "
    "INCLUDE (deleted_at, team_id, visibility, facilitator_id, created_by_id, created_at)"
)
PG_STARTED_INDEX_PLAIN = f"CREATE INDEX pm_started_idx ON {TABLE} (started_at DESC, id DESC)"


def _rebuild(schema_editor, create: str) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS pm_started_idx")
        schema_editor.execute(create)


def covering(apps, schema_editor):
    _rebuild(schema_editor, PG_STARTED_INDEX_COVERING)


def plain(apps, schema_editor):
    _rebuild(schema_editor, PG_STARTED_INDEX_PLAIN)


class Migration(migrations.Migration):

    dependencies = [
        ("postmortems", "0008_search_vector_inline"),
    ]

    operations = [migrations.RunPython(covering, plain)]
