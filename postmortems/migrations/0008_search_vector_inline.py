"""Keep the search ``tsvector`` inside each row on PostgreSQL (``STORAGE MAIN``).

Why and what it measured: ``postmortems.search.PG_SEARCH_VECTOR_INLINE``. The
setting is a catalogue change and takes effect for rows written from now on;
existing rows move when next saved, or all at once with
``VACUUM FULL postmortems_postmortem`` (which locks the table while it runs).
Nothing happens on SQLite, whose FTS5 index is a separate table.
"""

from django.db import migrations


def inline(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from postmortems.search import PG_SEARCH_VECTOR_INLINE

        schema_editor.execute(PG_SEARCH_VECTOR_INLINE)


def default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from postmortems.search import PG_SEARCH_VECTOR_DEFAULT

        schema_editor.execute(PG_SEARCH_VECTOR_DEFAULT)


class Migration(migrations.Migration):

    dependencies = [
        ("postmortems", "0007_restricted_index"),
    ]

    operations = [migrations.RunPython(inline, default)]
