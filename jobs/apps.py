from django.apps import AppConfig
from django.db.models.signals import post_migrate


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self):
        post_migrate.connect(ensure_schedules, sender=self)


def ensure_schedules(**kwargs):
    """The periodic sweep that re-queues jobs whose worker died."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="recover stale jobs",
        defaults={"func": "jobs.tasks.recover_stale_jobs", "schedule_type": Schedule.MINUTES, "minutes": 1},
    )
