"""Owner-scoped reads: every query for a user's objects starts here, so no view can forget the scope."""

from django.db.models import QuerySet

from jobs.models import Asset, Job
from mediahub.errors import NotFound


def assets_for(user) -> QuerySet[Asset]:
    return Asset.objects.filter(owner=user)


def jobs_for(user) -> QuerySet[Job]:
    return Job.objects.filter(owner=user).prefetch_related("input_links", "outputs")


def get_asset_for(user, asset_id: str) -> Asset:
    asset = assets_for(user).filter(id=asset_id).first()
    if asset is None:
        raise NotFound("No such asset.")
    return asset


def get_job_for(user, job_id: str) -> Job:
    job = jobs_for(user).filter(id=job_id).first()
    if job is None:
        raise NotFound("No such job.")
    return job
