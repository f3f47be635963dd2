"""A subscriber's own calendar: a private feed belonging to a subscriber, with optional alarms."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('timeline', '0017_editor_permissions_for_figures'),
    ]

    operations = [
        migrations.AddField(
            model_name='privatefeed',
            name='alarms',
            field=models.BooleanField(default=False, help_text="For a subscriber's calendar: alarms at the subscriber's reminder times.", verbose_name='alarms'),
        ),
        migrations.AddField(
            model_name='privatefeed',
            name='subscriber',
            field=models.OneToOneField(blank=True, help_text="A subscriber's own calendar of what they follow, in their language.", null=True, on_delete=django.db.models.deletion.CASCADE, related_name='calendar', to='timeline.subscriber', verbose_name='subscriber'),
        ),
    ]
