"""Generations: validate against the model and the owner's keys and budget, then run as a job."""

from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from jobs.models import Job
from jobs.services.assets import asset_delete
from jobs.services.jobs import job_cancel, job_validate, jobs_create
from keys.models import ProviderCredential
from mediahub.errors import AppError, Conflict, InvalidInput
from mediahub.idempotency import fingerprint, replay
from providers import catalog
from providers.adapters import get_adapter
from providers.models import Budget, Generation
from providers.selectors import spend_this_month


class BudgetExceeded(AppError):
    status = 402
    code = "budget_exceeded"


def monthly_budget(owner) -> Decimal | None:
    """The owner's own budget, else the server's default; None when there is no limit."""
    own = Budget.objects.filter(owner=owner).values_list("monthly_usd", flat=True).first()
    limit = own if own is not None else Decimal(settings.MEDIAHUB_MONTHLY_BUDGET_USD)
    return limit if limit > 0 else None


def _check_budget(owner, estimate: Decimal) -> None:
    limit = monthly_budget(owner)
    if limit is None:
        return
    spent = spend_this_month(owner)
    if spent + estimate > limit:
        raise BudgetExceeded(
            f"This generation (about {estimate:.2f} USD) would take this month's spend past the budget of "
            f"{limit:.2f} USD ({spent:.2f} USD used)."
        )


def _check_credential(owner, provider: str) -> None:
    if not get_adapter(provider).needs_credential:
        return
    working = ProviderCredential.objects.filter(owner=owner, provider=provider, status=ProviderCredential.Status.ACTIVE)
    if not working.exists():
        message = f"You have no working {provider} key: add one under Settings → Provider keys, or validate it."
        raise InvalidInput("No working provider key.", fields={"provider": [message]})


def generation_create(
    *, owner, body: dict, webhook_url: str = "", idempotency_key: str = ""
) -> tuple[Generation, bool]:
    """Queue a generation. Returns (generation, created); a repeated Idempotency-Key gives the first one."""
    request = fingerprint(body=body, webhook_url=webhook_url)
    earlier = replay(Generation.objects.filter(owner=owner), idempotency_key, request)
    if earlier is not None:
        return earlier, False
    try:
        spec = job_validate(
            owner=owner, operation="generate", inputs=[], params=body, webhook_url=webhook_url, via_owner_api=True
        )
    except InvalidInput as exc:
        # The body is the operation's params: its fields are named as the client sent them.
        exc.fields = {name.removeprefix("params."): messages for name, messages in exc.fields.items()}
        raise
    params = spec.params
    _check_credential(owner, params["provider"])
    info = catalog.model_info(params["provider"], params["model"])
    duration = catalog.fit(info, duration=params.get("duration"), aspect_ratio=None, resolution=None)["duration"]
    estimate = catalog.cost(params["provider"], params["model"], duration)
    try:
        with transaction.atomic():
            _check_budget(owner, estimate)
            (job,) = jobs_create(owner=owner, specs=[spec])
            generation = Generation.objects.create(
                owner=owner,
                job=job,
                provider=params["provider"],
                model=params["model"],
                prompt=params["prompt"],
                image=spec.param_assets.get("image"),
                estimated_cost=estimate,
                idempotency_key=idempotency_key,
                request_fingerprint=request,
            )
    except IntegrityError:
        earlier = replay(Generation.objects.filter(owner=owner), idempotency_key, request)
        if earlier is None:
            raise
        return earlier, False
    return generation, True


def generation_cancel(*, generation: Generation) -> Generation:
    """Stop it; a running worker notices within a second and cancels the provider's task too."""
    job_cancel(job=generation.job)
    return generation


def generation_delete(*, generation: Generation) -> None:
    """Delete a finished generation with its video and poster (cancel a running one first)."""
    job = generation.job
    if job.status not in Job.FINISHED:
        raise Conflict("The generation is still running: cancel it first.", code="generation_active")
    for asset in job.outputs.all():
        asset_delete(asset=asset)
    job.delete()
