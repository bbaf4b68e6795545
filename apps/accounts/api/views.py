from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from apps.accounts.models import ApiToken, SshPublicKey
from apps.accounts.selectors import api_token_get, api_token_list, signed_in_user, ssh_key_get, ssh_key_list
from apps.accounts.services import api_token_create, api_token_revoke, ssh_key_add, ssh_key_delete

from .serializers import ApiTokenCreatedSerializer, ApiTokenSerializer, MeSerializer, SshPublicKeySerializer


class MeView(APIView):
    """The signed-in user."""

    @extend_schema(responses=MeSerializer, operation_id="me_retrieve")
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(signed_in_user(request)).data)


_PERSON_ONLY = OpenApiResponse(
    description="Sent with a personal API token: it may revoke only itself, and create no token."
)


def _token_in_use(request: Request) -> ApiToken | None:
    """The personal API token this request authenticated with (None: a session or a Bearer token)."""
    return request.auth if isinstance(request.auth, ApiToken) else None


class ApiTokenViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet[ApiToken]
):
    """Your personal API tokens. The full key is in the create answer only.

    Tokens are created and revoked signed in (a browser session, or the identity
    provider's Bearer token); with an API token you may revoke only that token.
    """

    serializer_class = ApiTokenSerializer
    queryset = ApiToken.objects.none()  # the real one, per user, is get_queryset
    lookup_field = "token_key"
    lookup_value_converter = "str"  # not a number: the key's first characters

    def get_queryset(self) -> QuerySet[ApiToken]:
        return api_token_list(user=signed_in_user(self.request))

    def get_object(self) -> ApiToken:
        return api_token_get(user=signed_in_user(self.request), token_key=self.kwargs["token_key"])

    @extend_schema(request=ApiTokenSerializer, responses={201: ApiTokenCreatedSerializer, 403: _PERSON_ONLY})
    def create(self, request: Request) -> Response:
        serializer = ApiTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = api_token_create(
            user=signed_in_user(request), using=_token_in_use(request), **serializer.validated_data
        )
        body = ApiTokenCreatedSerializer(token).data
        body["token"] = key
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 403: _PERSON_ONLY})
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance: ApiToken) -> None:
        api_token_revoke(token=instance, using=_token_in_use(self.request))


class SshPublicKeyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet[SshPublicKey]
):
    """Your SSH public keys, put on the machines you create."""

    serializer_class = SshPublicKeySerializer
    queryset = SshPublicKey.objects.none()  # the real one, per user, is get_queryset

    def get_queryset(self) -> QuerySet[SshPublicKey]:
        return ssh_key_list(user=signed_in_user(self.request))

    def get_object(self) -> SshPublicKey:
        return ssh_key_get(user=signed_in_user(self.request), key_id=int(self.kwargs["pk"]))

    @extend_schema(request=SshPublicKeySerializer, responses={201: SshPublicKeySerializer})
    def create(self, request: Request) -> Response:
        serializer: BaseSerializer[SshPublicKey] = SshPublicKeySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = ssh_key_add(
            user=signed_in_user(request),
            name=serializer.validated_data.get("name", ""),
            public_key=serializer.validated_data["public_key"],
        )
        return Response(SshPublicKeySerializer(key).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: SshPublicKey) -> None:
        ssh_key_delete(key=instance)
