"""REST API for API keys and provider credentials: validate → call a service → serialize."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from keys.audit import Actor
from keys.selectors import api_keys_for, get_api_key_for, get_provider_credential_for, provider_credentials_for
from keys.serializers import ApiKeyIn, ApiKeyOut, ProviderKeyIn, ProviderKeyOut
from keys.services import (
    apikey_create,
    apikey_revoke,
    apikey_rotate,
    provider_credential_create,
    provider_credential_revoke,
    provider_credential_validate,
)

# Reading keys needs `read`; making, rotating and revoking them needs `admin`, so a leaked everyday key
# cannot mint new ones.
MANAGE = {"GET": "read", "POST": "admin", "DELETE": "admin"}


class ApiKeyListView(generics.ListAPIView):
    serializer_class = ApiKeyOut
    required_scope = MANAGE

    def get_queryset(self):
        return api_keys_for(self.request.user)

    @extend_schema(request=ApiKeyIn, responses={201: ApiKeyOut}, summary="Create an API key (secret shown once)")
    def post(self, request):
        body = ApiKeyIn(data=request.data)
        body.is_valid(raise_exception=True)
        key, raw = apikey_create(owner=request.user, by=Actor.of(request), **body.validated_data)
        return Response(ApiKeyOut(key, context={"secret": raw}).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    required_scope = MANAGE

    @extend_schema(responses=ApiKeyOut)
    def get(self, request, key_id):
        return Response(ApiKeyOut(get_api_key_for(request.user, key_id)).data)

    @extend_schema(responses={204: None}, summary="Revoke the key")
    def delete(self, request, key_id):
        apikey_revoke(key=get_api_key_for(request.user, key_id), by=Actor.of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyRotateView(APIView):
    required_scope = MANAGE

    @extend_schema(request=None, responses=ApiKeyOut, summary="New secret; the old one works for a grace period")
    def post(self, request, key_id):
        key, raw = apikey_rotate(key=get_api_key_for(request.user, key_id), by=Actor.of(request))
        return Response(ApiKeyOut(key, context={"secret": raw}).data)


class ProviderKeyListView(generics.ListAPIView):
    serializer_class = ProviderKeyOut
    required_scope = MANAGE

    def get_queryset(self):
        return provider_credentials_for(self.request.user)

    @extend_schema(request=ProviderKeyIn, responses={201: ProviderKeyOut}, summary="Store a provider key")
    def post(self, request):
        body = ProviderKeyIn(data=request.data)
        body.is_valid(raise_exception=True)
        credential = provider_credential_create(owner=request.user, by=Actor.of(request), **body.validated_data)
        return Response(ProviderKeyOut(credential).data, status=status.HTTP_201_CREATED)


class ProviderKeyDetailView(APIView):
    required_scope = MANAGE

    @extend_schema(responses=ProviderKeyOut)
    def get(self, request, credential_id):
        return Response(ProviderKeyOut(get_provider_credential_for(request.user, credential_id)).data)

    @extend_schema(responses={204: None}, summary="Revoke: the encrypted secret is deleted")
    def delete(self, request, credential_id):
        provider_credential_revoke(
            credential=get_provider_credential_for(request.user, credential_id), by=Actor.of(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProviderKeyValidateView(APIView):
    @extend_schema(request=None, responses=ProviderKeyOut, summary="Ask the provider whether the key works")
    def post(self, request, credential_id):
        credential = provider_credential_validate(
            credential=get_provider_credential_for(request.user, credential_id), by=Actor.of(request)
        )
        return Response(ProviderKeyOut(credential).data)
