"""Under /api/v1/tenancies/{tenancy_id}/ (the id an `<int:…>`: anything else is a 404)."""

from django.urls import path

from . import views

T = "tenancies/<int:tenancy_id>"

urlpatterns = [
    path(f"{T}/images/", views.ImageListView.as_view(), name="tenancy-images"),
    path(f"{T}/sizes/", views.SizeListView.as_view(), name="tenancy-sizes"),
    path(f"{T}/quotas/", views.QuotaListView.as_view(), name="tenancy-quotas"),
    path(f"{T}/networks/", views.NetworkListView.as_view(), name="tenancy-networks"),
]
