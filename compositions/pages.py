"""Dashboard pages for compositions: short views over the same services and selectors as the API."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from compositions.forms import CompositionForm
from compositions.selectors import compositions_for, get_composition_for
from compositions.services import composition_cancel, composition_create, composition_preview
from jobs.models import Asset
from jobs.selectors import assets_for
from mediahub.errors import AppError, InvalidInput, NotFound

LISTED = 50


def _composition_or_404(user, composition_id):
    try:
        return get_composition_for(user, composition_id)
    except NotFound:
        raise Http404("No such composition.") from None


def _form(request, data=None) -> CompositionForm:
    """The form; `?clip_0_asset=<id>` starts a timeline with that video (from the generation pages). The choices
    are the user's own assets, so another id is simply not offered."""
    assets = assets_for(request.user).order_by("-created_at")
    return CompositionForm(
        data,
        initial={"clip_0_asset": request.GET.get("clip_0_asset", "")},
        clip_assets=assets.filter(kind__in=[Asset.Kind.VIDEO, Asset.Kind.IMAGE])[:200],
        music_assets=assets.filter(kind__in=[Asset.Kind.AUDIO, Asset.Kind.VIDEO]).exclude(audio_codec="")[:200],
    )


def _list_page(request, form=None, status=200):
    context = {"form": form or _form(request), "compositions": compositions_for(request.user)[:LISTED]}
    return render(request, "compositions/list.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def composition_list(request):
    """The user's compositions and the form that makes one (POST)."""
    if request.method == "GET":
        return _list_page(request)
    form = _form(request, request.POST)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    try:
        composition, _ = composition_create(owner=request.user, body=form.spec())
    except AppError as exc:
        form.add_service_errors(exc)
        return _list_page(request, form, status=400 if isinstance(exc, InvalidInput) else exc.status)
    return redirect("compositions:detail", composition.id)


@login_required
@require_GET
def composition_rows(request):
    """The compositions table body, refreshed by htmx."""
    return render(request, "compositions/_rows.html", {"compositions": compositions_for(request.user)[:LISTED]})


def _outputs(job) -> tuple[Asset | None, Asset | None]:
    """The rendered video and its poster."""
    if job is None:
        return None, None
    assets = sorted(job.outputs.all(), key=lambda asset: (asset.created_at, asset.id))
    video = next((asset for asset in assets if asset.kind == Asset.Kind.VIDEO), None)
    poster = next((asset for asset in assets if asset.kind == Asset.Kind.IMAGE), None)
    return video, poster


@login_required
@require_GET
def composition_detail(request, composition_id):
    composition = _composition_or_404(request.user, composition_id)
    job, preview_job = composition.job, composition.preview_job
    output, poster = _outputs(job)
    preview, _ = _outputs(preview_job)
    # job.js follows one job live: the render while it runs, then the preview.
    live = None
    if job is not None and not job.is_finished:
        live = "render"
    elif preview_job is not None and not preview_job.is_finished:
        live = "preview"
    context = {
        "composition": composition,
        "job": job,
        "preview_job": preview_job,
        "output": output,
        "poster": poster,
        "preview": preview,
        "live": live,
        "spec": json.dumps(composition.spec, indent=2, ensure_ascii=False),
    }
    return render(request, "compositions/detail.html", context)


@login_required
@require_POST
def composition_preview_page(request, composition_id):
    composition = _composition_or_404(request.user, composition_id)
    try:
        composition_preview(composition=composition)
        messages.info(request, "Rendering a 360p preview.")
    except AppError as exc:
        details = [f"{path}: {message}" for path, items in exc.fields.items() for message in items]
        messages.warning(request, " ".join([exc.message, *details]))
    return redirect("compositions:detail", composition.id)


@login_required
@require_POST
def composition_cancel_page(request, composition_id):
    composition = _composition_or_404(request.user, composition_id)
    try:
        composition_cancel(composition=composition)
    except AppError as exc:
        messages.warning(request, exc.message)
    return redirect("compositions:detail", composition.id)
