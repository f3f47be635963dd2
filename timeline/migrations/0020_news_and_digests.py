"""News of new events and digests: each subscriber's choice, what digests owe, what an event was followed through."""

import datetime
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('timeline', '0019_bounces'),
    ]

    operations = [
        migrations.CreateModel(
            name='DigestItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('news', 'New event'), ('change', 'Changed')], max_length=8, verbose_name='kind')),
                ('old', models.JSONField(blank=True, null=True, verbose_name='old schedule')),
                ('held_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='held at')),
            ],
            options={
                'verbose_name': 'digest item',
                'verbose_name_plural': 'digest items',
            },
        ),
        migrations.AddField(
            model_name='announcedschedule',
            name='followed',
            field=models.JSONField(blank=True, null=True, verbose_name='followed through'),
        ),
        migrations.AddField(
            model_name='subscriber',
            name='digest_reminders',
            field=models.BooleanField(default=True, help_text='Whether reminders still come while news comes in a digest.', verbose_name='reminders while on a digest'),
        ),
        migrations.AddField(
            model_name='subscriber',
            name='digest_since',
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='digests since'),
        ),
        migrations.AddField(
            model_name='subscriber',
            name='digest_time',
            field=models.TimeField(default=datetime.time(8, 0), help_text="When the digest comes, in the subscriber's time zone.", verbose_name='digest time'),
        ),
        migrations.AddField(
            model_name='subscriber',
            name='digest_weekday',
            field=models.PositiveSmallIntegerField(choices=[(0, 'Monday'), (1, 'Tuesday'), (2, 'Wednesday'), (3, 'Thursday'), (4, 'Friday'), (5, 'Saturday'), (6, 'Sunday')], default=0, help_text='The day a weekly digest comes.', verbose_name='digest weekday'),
        ),
        migrations.AddField(
            model_name='subscriber',
            name='news',
            field=models.CharField(choices=[('at_once', 'At once, one email per event'), ('daily', 'In a daily digest'), ('weekly', 'In a weekly digest'), ('never', 'Never')], default='never', max_length=8, verbose_name='news of new events'),
        ),
        migrations.AlterField(
            model_name='notification',
            name='kind',
            field=models.CharField(choices=[('confirmation', 'Confirm your address'), ('reminder', 'Reminder'), ('rescheduled', 'Changed'), ('cancelled', 'Cancelled'), ('date_announced', 'Date announced'), ('news', 'New event'), ('digest', 'Digest')], max_length=20, verbose_name='kind'),
        ),
        migrations.AddConstraint(
            model_name='subscriber',
            constraint=models.CheckConstraint(condition=models.Q(('news__in', ['at_once', 'daily', 'weekly', 'never'])), name='subscriber_news_is_a_choice'),
        ),
        migrations.AddConstraint(
            model_name='subscriber',
            constraint=models.CheckConstraint(condition=models.Q(('digest_weekday__lte', 6)), name='subscriber_digest_weekday_is_a_day'),
        ),
        migrations.AddField(
            model_name='digestitem',
            name='digest',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='digest_items', to='timeline.notification', verbose_name='told in'),
        ),
        migrations.AddField(
            model_name='digestitem',
            name='event',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='digest_items', to='timeline.event', verbose_name='event'),
        ),
        migrations.AddField(
            model_name='digestitem',
            name='subscriber',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='digest_items', to='timeline.subscriber', verbose_name='subscriber'),
        ),
        migrations.AddConstraint(
            model_name='digestitem',
            constraint=models.UniqueConstraint(condition=models.Q(('kind', 'news')), fields=('subscriber', 'event'), name='one_news_item_per_event'),
        ),
        migrations.AddConstraint(
            model_name='digestitem',
            constraint=models.UniqueConstraint(condition=models.Q(('digest__isnull', True), ('kind', 'change')), fields=('subscriber', 'event'), name='one_pending_change_per_event'),
        ),
    ]
