from django.db.models import QuerySet
from rest_framework import viewsets

from apps.tenancies.models import Tenancy
from apps.tenancies.selectors import tenancy_list_for_user

from .serializers import TenancySerializer


class TenancyViewSet(viewsets.ReadOnlyModelViewSet[Tenancy]):
    """The tenancies you are a member of. Others answer 404."""

    serializer_class = TenancySerializer

    def get_queryset(self) -> QuerySet[Tenancy]:
        return tenancy_list_for_user(user=self.request.user)
