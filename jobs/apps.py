from django.apps import AppConfig
from django.db.models.signals import post_migrate


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self):
        from jobs import worker  # noqa: F401 (connects the cluster's worker signals)

        post_migrate.connect(ensure_schedules, sender=self)


SCHEDULES = {
    "recover stale jobs": "jobs.tasks.recover_stale_jobs",  # re-queue jobs whose worker died
    "send due webhooks": "jobs.tasks.send_due_webhooks",  # webhook retries whose time has come
    # the host that runs it; every host also sweeps when a worker starts and after its jobs
    "sweep scratch folders": "jobs.tasks.sweep_scratch_folders",
}


def ensure_schedules(**kwargs):
    """The periodic sweeps, each every minute."""
    from django_q.models import Schedule

    for name, func in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": Schedule.MINUTES, "minutes": 1}
        )
