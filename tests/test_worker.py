"""A real Celery worker, started as in production, runs a task end to end through Redis."""

import pytest

from timeline import tasks
from timeline.models import Heartbeat

from .processes import wait_for

pytestmark = pytest.mark.slow


def test_worker_runs_a_task_sent_through_redis(celery_worker_process):
    assert not Heartbeat.objects.filter(name="integration").exists()
    tasks.record_heartbeat.delay("integration")
    beat = wait_for(lambda: Heartbeat.objects.filter(name="integration").first(), timeout=60)
    assert beat.beat_at is not None
    assert celery_worker_process.poll() is None
