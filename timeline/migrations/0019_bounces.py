"""Bounces and complaints: a trace token on each mail, suppression on subscribers, webhook receipts.

Rows already sent keep no token (their mail carried none); rows still to be sent get one each.
"""

import secrets

import timeline.models.subscribers
from django.db import migrations, models


def give_unsent_rows_a_token(apps, schema_editor):
    Notification = apps.get_model("timeline", "Notification")
    unsent = Notification.objects.filter(state__in=["pending", "sending"], trace_token=None)
    for pk in unsent.values_list("pk", flat=True).iterator():
        Notification.objects.filter(pk=pk).update(trace_token=secrets.token_hex(16))


class Migration(migrations.Migration):

    dependencies = [
        ('timeline', '0018_personal_calendar'),
    ]

    operations = [
        migrations.CreateModel(
            name='WebhookReceipt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token_hash', models.CharField(editable=False, max_length=64, unique=True, verbose_name='token hash')),
                ('received_at', models.DateTimeField(db_index=True, editable=False, verbose_name='received at')),
            ],
            options={
                'verbose_name': 'webhook receipt',
                'verbose_name_plural': 'webhook receipts',
            },
        ),
        migrations.AddField(
            model_name='notification',
            name='bounce',
            field=models.CharField(blank=True, choices=[('hard', 'hard bounce'), ('soft', 'soft bounce'), ('complaint', 'spam complaint')], max_length=10, verbose_name='bounce'),
        ),
        migrations.AddField(
            model_name='notification',
            name='bounced_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='bounced at'),
        ),
        # A callable default would be called once for every existing row (one token for all):
        # the column starts empty, and the model's default applies to rows made from now on.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AddField(
                    model_name='notification',
                    name='trace_token',
                    field=models.CharField(editable=False, max_length=32, null=True, unique=True, verbose_name='trace token'),
                ),
            ],
            state_operations=[
                migrations.AddField(
                    model_name='notification',
                    name='trace_token',
                    field=models.CharField(default=timeline.models.subscribers.new_trace_token, editable=False, max_length=32, null=True, unique=True, verbose_name='trace token'),
                ),
            ],
        ),
        migrations.RunPython(give_unsent_rows_a_token, migrations.RunPython.noop),
        migrations.AddField(
            model_name='subscriber',
            name='bounce_diagnostic',
            field=models.CharField(blank=True, max_length=1000, verbose_name='last bounce diagnostic'),
        ),
        migrations.AddField(
            model_name='subscriber',
            name='bounce_status',
            field=models.CharField(blank=True, max_length=16, verbose_name='last bounce status'),
        ),
        migrations.AddField(
            model_name='subscriber',
            name='last_bounce_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='last bounce at'),
        ),
        migrations.AddField(
            model_name='subscriber',
            name='soft_bounces',
            field=models.PositiveIntegerField(default=0, verbose_name='soft bounces'),
        ),
        migrations.AddField(
            model_name='subscriber',
            name='soft_bounces_since',
            field=models.DateTimeField(blank=True, null=True, verbose_name='soft bounces since'),
        ),
        migrations.AddField(
            model_name='subscriber',
            name='suppressed_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='suppressed at'),
        ),
        migrations.AddField(
            model_name='subscriber',
            name='suppression_lifted_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='suppression lifted at'),
        ),
        migrations.AddField(
            model_name='subscriber',
            name='suppression_reason',
            field=models.CharField(blank=True, choices=[('hard_bounce', 'hard bounce'), ('soft_bounces', 'repeated soft bounces'), ('complaint', 'spam complaint')], max_length=16, verbose_name='suppression reason'),
        ),
    ]
