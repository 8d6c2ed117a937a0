from django.db import migrations, models


def create_epoch(apps, schema_editor):
    apps.get_model("insights", "SnapshotEpoch").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="FiguresSnapshot",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=64, unique=True)),
                ("audience", models.CharField(max_length=40)),
                (
                    "day",
                    models.DateField(help_text="The day (server time zone) the default range ends on."),
                ),
                (
                    "computed_at",
                    models.DateTimeField(help_text="When the figures were read from the database."),
                ),
                ("duration_ms", models.PositiveIntegerField(default=0)),
                ("data", models.BinaryField()),
            ],
            options={"verbose_name": "figures snapshot"},
        ),
        migrations.CreateModel(
            name="SnapshotEpoch",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(create_epoch, migrations.RunPython.noop),
    ]
