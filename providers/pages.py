"""Dashboard pages for AI generations: short views over the same services and selectors as the API."""

import json
from datetime import date, datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jobs.models import Asset
from jobs.selectors import assets_for
from mediahub.errors import AppError, InvalidInput, NotFound
from providers.catalog import providers_catalog
from providers.forms import MAX_USAGE_DAYS, GalleryFilterForm, GenerationForm, UsageRangeForm, model_value
from providers.models import STATUS_FROM_JOB
from providers.selectors import generations_for, get_generation_for, month_start, providers_for, spend_this_month, usage
from providers.services import generation_cancel, generation_create, generation_delete, monthly_budget

PER_PAGE = 24
RECENT = 6
CHART_WIDTH, CHART_HEIGHT = 720, 120
# The generation's words for its job's statuses, for generate.js.
STATUS_NAMES = json.dumps({str(job_status): name for job_status, name in STATUS_FROM_JOB.items()})


def _generation_or_404(user, generation_id):
    try:
        return get_generation_for(user, generation_id)
    except NotFound:
        raise Http404("No such generation.") from None


def _budget(user) -> dict:
    limit, spent = monthly_budget(user), spend_this_month(user)
    if limit is None:
        return {"limit": None, "spent": spent}
    return {
        "limit": limit,
        "spent": spent,
        "remaining": max(limit - spent, 0),
        "percent": min(100, spent / limit * 100),
    }


# --- playground ---------------------------------------------------------------------------------------------


def _generation_form(request, providers, data=None, initial=None) -> GenerationForm:
    images = assets_for(request.user).filter(kind=Asset.Kind.IMAGE).order_by("-created_at")[:200]
    working = {provider["name"] for provider in providers if provider["credential"]["working"]}
    return GenerationForm(data, initial=initial, providers=providers, working=working, images=images)


def _again(request) -> dict | None:
    """The form filled from an earlier generation (?from=gen_…), to run it again or vary it."""
    if not request.GET.get("from"):
        return None
    try:
        earlier = get_generation_for(request.user, request.GET["from"])
    except NotFound:
        return None
    params = earlier.job.params
    fallback = params.get("fallback", [])
    initial = {name: params[name] for name in params if name not in ("provider", "model", "fallback")}
    initial["model"] = model_value(params["provider"], params["model"])
    return initial | {f"fallback_{row}": name for row, name in enumerate(fallback)}


def _playground_page(request, providers, form, status=200):
    context = {
        "section": "playground",
        "form": form,
        "providers": providers,
        "budget": _budget(request.user),
        "recent": generations_for(request.user).prefetch_related("job__outputs")[:RECENT],
        "back": reverse("providers:playground"),
    }
    return render(request, "providers/playground.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def playground(request):
    """The generation form (POST starts one) with the providers, the user's keys and budget."""
    providers = providers_for(request.user)
    if request.method == "GET":
        return _playground_page(request, providers, _generation_form(request, providers, initial=_again(request)))
    form = _generation_form(request, providers, request.POST)
    if not form.is_valid():
        return _playground_page(request, providers, form, status=400)
    try:
        generation, _ = generation_create(owner=request.user, body=form.body())
    except AppError as exc:
        form.add_service_errors(exc)
        return _playground_page(request, providers, form, status=400 if isinstance(exc, InvalidInput) else exc.status)
    return redirect(generation)


# --- one generation -----------------------------------------------------------------------------------------


def _requested(params: dict) -> list[str]:
    """The settings asked for, in words (those left to the model are not listed)."""
    shown = {"duration": "{} s", "aspect_ratio": "{}", "resolution": "{}", "seed": "seed {}"}
    return [text.format(params[name]) for name, text in shown.items() if params.get(name) is not None]


@login_required
@require_GET
def generation_detail(request, generation_id):
    generation = _generation_or_404(request.user, generation_id)
    job = generation.job
    outputs = generation.outputs()
    params = job.params
    context = {
        "generation": generation,
        "job": job,
        "video": outputs["video"],
        "poster": outputs["poster"],
        "requested": _requested(params),
        "tried": [entry | {"at": parse_datetime(entry.get("at") or "")} for entry in generation.tried],
        "fallback": params.get("fallback", []),
        "negative_prompt": params.get("negative_prompt", ""),
        "status_names": STATUS_NAMES,
    }
    return render(request, "providers/generation.html", context)


@login_required
@require_POST
def generation_cancel_page(request, generation_id):
    generation = _generation_or_404(request.user, generation_id)
    try:
        generation_cancel(generation=generation)
    except AppError as exc:
        messages.warning(request, exc.message)
    return redirect(generation)


@login_required
@require_POST
def generation_delete_page(request, generation_id):
    """Delete a finished generation with its video, then go back where the button was (the gallery's filters)."""
    generation = _generation_or_404(request.user, generation_id)
    try:
        generation_delete(generation=generation)
    except AppError as exc:
        messages.warning(request, exc.message)
        return redirect(generation)
    messages.info(request, f"Deleted the generation {generation_id} and its video.")
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("providers:gallery")


# --- gallery ------------------------------------------------------------------------------------------------


def _gallery(request) -> tuple[GalleryFilterForm, dict]:
    """The filters and the grid's context: one page of posters, polled while one of them is still running."""
    form = GalleryFilterForm(request.GET or None, providers=providers_catalog())
    form.is_valid()
    found = form.filter(generations_for(request.user)).prefetch_related("job__outputs")
    page = Paginator(found, PER_PAGE).get_page(request.GET.get("page"))
    back = f"{reverse('providers:gallery')}?{request.GET.urlencode()}"  # where a card's delete returns to
    return form, {"page": page, "live": any(not g.job.is_finished for g in page), "back": back}


@login_required
@require_GET
def gallery(request):
    """The user's generations as posters, filtered by provider, model and status."""
    form, grid = _gallery(request)
    context = {"section": "gallery", "filters": form, **grid}
    return render(request, "providers/gallery.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def gallery_grid(request):
    """The gallery's grid alone, for htmx."""
    _, grid = _gallery(request)
    return render(request, "providers/_grid.html", grid)


# --- usage --------------------------------------------------------------------------------------------------


def _chart(values: dict[date, float]) -> dict:
    """One bar a day for an inline SVG chart, scaled to the highest day."""
    top = max(values.values(), default=0)
    slot = CHART_WIDTH / max(1, len(values))
    bars = []
    for index, (day, value) in enumerate(values.items()):
        height = round(value / (top or 1) * CHART_HEIGHT, 1)
        bars.append(
            {
                "day": day,
                "value": value,
                "x": round(index * slot + slot * 0.1, 2),
                "width": round(slot * 0.8, 2),
                "y": round(CHART_HEIGHT - height, 1),
                "height": height,
            }
        )
    return {"bars": bars, "top": top, "width": CHART_WIDTH, "height": CHART_HEIGHT}


def _range(form: UsageRangeForm, default: tuple[date, date]) -> tuple[date, date]:
    """The days asked for, inclusive; what the form leaves out (or gets wrong) is the default's."""
    data = form.cleaned_data if form.is_valid() else {}
    end = data.get("end") or max(default[1], data.get("start") or default[1])
    start = data.get("start") or min(default[0], end)
    return max(start, end - timedelta(days=MAX_USAGE_DAYS - 1)), end


@login_required
@require_GET
def usage_page(request):
    """Cost and counts by day as bars, and by provider and by model as tables; the month's spend and budget."""
    this_month = (month_start(timezone.localtime()).date(), timezone.localdate())
    form = UsageRangeForm(request.GET or None, initial=dict(zip(("start", "end"), this_month, strict=True)))
    first, last = _range(form, this_month)
    start = timezone.make_aware(datetime.combine(first, time.min))
    end = timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min))
    by_day = {row["day"]: row for row in usage(request.user, start=start, end=end, group_by="day")}
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    by_provider = usage(request.user, start=start, end=end, group_by="provider")
    totals = {name: sum(row[name] for row in by_provider) for name in ("count", "succeeded", "failed", "total_cost")}
    context = {
        "section": "usage",
        "form": form,
        "first": first,
        "last": last,
        "cost_chart": _chart({day: by_day[day]["total_cost"] if day in by_day else 0.0 for day in days}),
        "count_chart": _chart({day: by_day[day]["count"] if day in by_day else 0 for day in days}),
        "by_provider": by_provider,
        "by_model": usage(request.user, start=start, end=end, group_by="model"),
        "totals": totals,
        "budget": _budget(request.user),
    }
    return render(request, "providers/usage.html", context, status=400 if form.errors else 200)
