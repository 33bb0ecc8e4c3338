"""Dashboard pages for highlight clips: the form, the list of highlight jobs, one job's clips as vertical
previews, and "open as composition"."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from compositions.clip_forms import ClipsForm
from compositions.services import clips_submit, composition_create
from jobs.models import Asset
from jobs.selectors import assets_for, get_job_for, jobs_for
from mediahub.errors import AppError, NotFound

LISTED = 50


def _highlights_job_or_404(user, job_id):
    try:
        job = get_job_for(user, job_id)
    except NotFound:
        raise Http404("No such clips job.") from None
    if job.operation != "highlights":
        raise Http404("No such clips job.")
    return job


def _form(request, data=None) -> ClipsForm:
    videos = assets_for(request.user).filter(kind=Asset.Kind.VIDEO).exclude(audio_codec="").order_by("-created_at")
    return ClipsForm(data, assets=videos[:200])


def _list_page(request, form=None, status=200):
    context = {"form": form or _form(request), "jobs": jobs_for(request.user).filter(operation="highlights")[:LISTED]}
    return render(request, "compositions/clips.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def clips_list(request):
    if request.method == "GET":
        return _list_page(request)
    form = _form(request, request.POST)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    try:
        job, _ = clips_submit(owner=request.user, asset_id=form.cleaned_data["asset"], params=form.params())
    except AppError as exc:
        form.add_service_errors(exc)
        return _list_page(request, form, status=exc.status)
    return redirect("clips:detail", job.id)


def clip_views(job) -> list[dict]:
    """The result's clips with their assets (None where one was deleted since)."""
    assets = {asset.id: asset for asset in job.outputs.all()}
    return [
        {
            **clip,
            "video_asset": assets.get(clip["video"]),
            "files": [(kind, assets.get(asset_id)) for kind, asset_id in clip["captions"].items()],
        }
        for clip in (job.result or {}).get("clips", [])
    ]


def _detail_page(request, job, error: str = "", status: int = 200):
    source = next(iter(job.ordered_inputs()), None)
    context = {"job": job, "source": source, "clips": clip_views(job), "error": error}
    return render(request, "compositions/clip_job.html", context, status=status)


@login_required
def clips_detail(request, clips_job_id):
    return _detail_page(request, _highlights_job_or_404(request.user, clips_job_id))


@login_required
@require_POST
def clip_compose(request, clips_job_id, index: int):
    """A composition started from one clip's spec (same source, crop path and captions), rendered as usual."""
    job = _highlights_job_or_404(request.user, clips_job_id)
    clips = (job.result or {}).get("clips", [])
    if not 1 <= index <= len(clips):
        messages.error(request, f"This job has no clip {index}.")
        return redirect("clips:detail", job.id)
    try:
        composition, _ = composition_create(owner=request.user, body=clips[index - 1]["composition"])
    except AppError as exc:
        return _detail_page(request, job, error=exc.message, status=exc.status)
    return redirect("compositions:detail", composition.id)
