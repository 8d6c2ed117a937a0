"""Full-text search index: a GIN-indexed tsvector on PostgreSQL, FTS5 on SQLite."""

from django.db import migrations

from postmortems.search import install_search_index, remove_search_index


def install(apps, schema_editor):
    install_search_index(schema_editor)


def remove(apps, schema_editor):
    remove_search_index(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("postmortems", "0002_seed_contributing_factors")]
    operations = [migrations.RunPython(install, remove)]
