"""Index action items by (due date, id): the order of the action-item list.

The API list (and "overdue" scans) order by ``due_date, id``; without this
index PostgreSQL sorted every readable item for a page of 20 (~350k items at
100k post-mortems). Writes to action items wait while it builds (about a
second per 350,000 items; docs/deployment.md, Upgrading).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("postmortems", "0009_started_index_covers_visibility")]

    operations = [
        migrations.AddIndex(
            model_name="actionitem",
            index=models.Index(fields=["due_date", "id"], name="ai_due_idx"),
        ),
    ]
