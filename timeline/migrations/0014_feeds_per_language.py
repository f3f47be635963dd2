# Calendar feeds per language: a cached VEVENT per event and language, a language per private
# feed (English for those issued before, so their links keep their text).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("timeline", "0013_translated_field_names"),
    ]

    operations = [
        # A cache: dropped rather than converted (the next publish renders what it needs).
        migrations.DeleteModel(
            name="EventFragment",
        ),
        migrations.CreateModel(
            name="EventFragment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="fragments",
                        to="timeline.event",
                        verbose_name="event",
                    ),
                ),
                ("language", models.CharField(max_length=8, verbose_name="language")),
                ("version", models.CharField(max_length=200, verbose_name="version")),
                ("body", models.BinaryField(verbose_name="body")),
            ],
            options={
                "verbose_name": "event fragment",
                "verbose_name_plural": "event fragments",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("event", "language"), name="unique_event_fragment"
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="privatefeed",
            name="language",
            field=models.CharField(
                choices=[("kk", "Қазақша"), ("ru", "Русский"), ("en", "English")],
                default="en",
                help_text="The language the calendar is written in.",
                max_length=8,
                verbose_name="language",
            ),
        ),
        migrations.AlterField(
            model_name="feed",
            name="key",
            field=models.CharField(
                help_text="e.g. ru/all, en/topic:energy",
                max_length=120,
                unique=True,
                verbose_name="key",
            ),
        ),
    ]
