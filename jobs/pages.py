"""Dashboard pages: short views over the same services and selectors as the API."""

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from jobs.forms import OperationForm, TranscodeForm
from jobs.operations import REGISTRY
from jobs.selectors import assets_for, deliveries_for, get_job_for, jobs_for
from jobs.services.assets import asset_delete, asset_upload
from jobs.services.jobs import job_cancel, job_retry, job_submit
from jobs.services.webhooks import delivery_redeliver
from jobs.uploads import LimitedUploadHandler, check_declared_length
from mediahub.errors import AppError, NotFound, TooLarge


def _job_or_404(user, job_id):
    try:
        return get_job_for(user, job_id)
    except NotFound:
        raise Http404("No such job.") from None


def _operation_form(request, data=None) -> OperationForm:
    return OperationForm(data, assets=assets_for(request.user).exclude(kind="data")[:100], operations=REGISTRY)


def _list_page(request, form=None, run_form=None, status=200, errors=()):
    context = {
        "form": form or TranscodeForm(),
        "run_form": run_form or _operation_form(request),
        "errors": errors,
        "jobs": jobs_for(request.user)[:50],
    }
    return render(request, "jobs/list.html", context, status=status)


@login_required
def job_list(request):
    return _list_page(request)


@csrf_exempt  # the upload handlers must be set before the body is read; csrf_protect below still checks it
@login_required
def job_create(request):
    if request.method != "POST":
        return redirect("jobs:list")
    request.upload_handlers = [LimitedUploadHandler(request)]
    try:
        check_declared_length(request)
        return _job_create(request)
    except TooLarge as exc:  # raised while the CSRF check reads the body, so caught out here
        return _list_page(request, status=exc.status, errors=[exc.message])


@csrf_protect
def _job_create(request):
    form = TranscodeForm(request.POST, request.FILES)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    params = {"format": form.cleaned_data["format"], "quality": form.cleaned_data["quality"]}
    if form.cleaned_data["resolution"]:
        params["resolution"] = form.cleaned_data["resolution"]
    try:
        asset, _ = asset_upload(owner=request.user, path=Path(upload.temporary_file_path()), name=upload.name)
        try:
            job, _ = job_submit(owner=request.user, operation="transcode", inputs=[asset.id], params=params)
        except AppError:
            asset_delete(asset=asset)  # the page shows no assets, so an unusable upload is not kept
            raise
    except AppError as exc:
        for field_errors in exc.fields.values() or [[exc.message]]:
            for message in field_errors:
                form.add_error(None, message)
        return _list_page(request, form, status=exc.status)
    return redirect(job)


@login_required
@require_POST
def job_run(request):
    form = _operation_form(request, request.POST)
    if not form.is_valid():
        return _list_page(request, run_form=form, status=400)
    try:
        job, _ = job_submit(owner=request.user, **form.cleaned_data)
    except AppError as exc:
        for name, field_errors in (exc.fields or {"": [exc.message]}).items():
            for message in field_errors:
                form.add_error(None, f"{name}: {message}" if name else message)
        return _list_page(request, run_form=form, status=exc.status)
    return redirect(job)


@login_required
def job_detail(request, job_id):
    job = _job_or_404(request.user, job_id)
    deliveries = deliveries_for(request.user).filter(job=job)
    return render(request, "jobs/detail.html", {"job": job, "deliveries": deliveries})


@login_required
def job_rows(request):
    """The jobs table body, refreshed by htmx."""
    return render(request, "jobs/_rows.html", {"jobs": jobs_for(request.user)[:50]})


@login_required
@require_POST
def job_action(request, job_id, action):
    job = _job_or_404(request.user, job_id)
    service = {"cancel": job_cancel, "retry": job_retry}.get(action)
    if service is None:
        raise Http404("No such action.")
    try:
        service(job=job)
    except AppError as exc:
        messages.warning(request, exc.message)
    return redirect(job)


@login_required
@require_POST
def delivery_redeliver_page(request, job_id, delivery_id):
    job = _job_or_404(request.user, job_id)
    delivery = deliveries_for(request.user).filter(job=job, id=delivery_id).first()
    if delivery is None:
        raise Http404("No such delivery.")
    try:
        delivery_redeliver(delivery=delivery)
        messages.info(request, f"Sending {delivery.event_type} to {delivery.url} again.")
    except AppError as exc:
        messages.warning(request, exc.message)
    return redirect(job)
