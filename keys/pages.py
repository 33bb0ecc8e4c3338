"""Dashboard settings: your API keys and provider keys, over the same services and selectors as the API.

A new or rotated secret is rendered straight into the response of the POST that made it (marked no-store): it
never goes into a URL, the session or the database, so it is shown exactly once."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from keys.audit import Actor
from keys.forms import API_KEY_FIELDS, MULTI_PART_PROVIDERS, ApiKeyForm, ProviderKeyForm
from keys.selectors import api_keys_for, get_api_key_for, get_provider_credential_for, provider_credentials_for
from keys.services import (
    apikey_create,
    apikey_revoke,
    apikey_rotate,
    provider_credential_create,
    provider_credential_revoke,
    provider_credential_validate,
)
from mediahub.crypto import DecryptionFailed
from mediahub.errors import AppError, NotFound


def _or_404(get, user, object_id):
    try:
        return get(user, object_id)
    except NotFound as exc:
        raise Http404(exc.message) from None


def _add_service_errors(form, exc: AppError, renames: dict[str, str] | None = None) -> None:
    """An AppError's field errors on the form's fields (unknown fields and plain messages above the form)."""
    renames = renames or {}
    for name, field_errors in (exc.fields or {None: [exc.message]}).items():
        field = renames.get(name, name)
        for message in field_errors:
            form.add_error(field if field in form.fields else None, message)


def _render(request, template, context, status=200):
    response = render(request, template, context, status=status)
    add_never_cache_headers(response)  # no-store: a page with a fresh secret must not be cached anywhere
    return response


# --- API keys -----------------------------------------------------------------------------------------------


def _keys_page(request, form=None, *, status=200, secret=None, key=None, rotated=False):
    context = {
        "section": "keys",
        "form": form or ApiKeyForm(user=request.user),
        "keys": api_keys_for(request.user),
        "new_secret": secret,
        "new_key": key,
        "rotated": rotated,
        "now": timezone.now(),
    }
    return _render(request, "keys/api_keys.html", context, status=status)


@login_required
def settings_index(request):
    return redirect("settings:keys")


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request):
    if request.method == "GET":
        return _keys_page(request)
    form = ApiKeyForm(request.POST, user=request.user)
    if not form.is_valid():
        return _keys_page(request, form, status=400)
    try:
        key, raw = apikey_create(owner=request.user, by=Actor.of(request), **form.service_arguments())
    except AppError as exc:
        _add_service_errors(form, exc, API_KEY_FIELDS)
        return _keys_page(request, form, status=exc.status)
    return _keys_page(request, secret=raw, key=key)


@login_required
@require_POST
def api_key_revoke(request, key_id):
    key = _or_404(get_api_key_for, request.user, key_id)
    apikey_revoke(key=key, by=Actor.of(request))
    messages.info(request, f"Revoked the key “{key.name}” ({key.prefix}…).")
    return redirect("settings:keys")


@login_required
@require_POST
def api_key_rotate(request, key_id):
    key = _or_404(get_api_key_for, request.user, key_id)
    try:
        key, raw = apikey_rotate(key=key, by=Actor.of(request))
    except AppError as exc:
        messages.warning(request, exc.message)
        return redirect("settings:keys")
    return _keys_page(request, secret=raw, key=key, rotated=True)


# --- provider keys ------------------------------------------------------------------------------------------


def _provider_page(request, form=None, *, status=200):
    context = {
        "section": "provider-keys",
        "form": form or ProviderKeyForm(),
        "credentials": provider_credentials_for(request.user),
        "multi_part_providers": MULTI_PART_PROVIDERS,
    }
    return _render(request, "keys/provider_keys.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def provider_keys(request):
    if request.method == "GET":
        return _provider_page(request)
    form = ProviderKeyForm(request.POST)
    if not form.is_valid():
        return _provider_page(request, form, status=400)
    try:
        credential = provider_credential_create(owner=request.user, by=Actor.of(request), **form.service_arguments())
    except AppError as exc:
        _add_service_errors(form, exc)
        return _provider_page(request, form, status=exc.status)
    messages.info(request, f"Stored the {credential.provider} key {credential.masked}.")
    return redirect("settings:provider-keys")


@login_required
@require_POST
def provider_key_revoke(request, credential_id):
    credential = _or_404(get_provider_credential_for, request.user, credential_id)
    provider_credential_revoke(credential=credential, by=Actor.of(request))
    messages.info(request, f"Revoked the {credential.provider} key {credential.masked}; its secret is deleted.")
    return redirect("settings:provider-keys")


@login_required
@require_POST
def provider_key_validate(request, credential_id):
    credential = _or_404(get_provider_credential_for, request.user, credential_id)
    try:
        credential = provider_credential_validate(credential=credential, by=Actor.of(request))
    except AppError as exc:  # CheckUnavailable (no adapter for this provider yet) or a revoked credential
        messages.warning(request, exc.message)
    except DecryptionFailed:
        messages.warning(request, "This key cannot be decrypted on this server any more; add it again.")
    else:
        text = f"{credential.provider} {credential.masked}: {credential.status}"
        text += f" ({credential.status_message})" if credential.status_message else ""
        level = messages.SUCCESS if credential.status == credential.Status.ACTIVE else messages.WARNING
        messages.add_message(request, level, text + ".")
    return redirect("settings:provider-keys")
