from django.urls import path

from apps.core.api import Router

from . import views

router = Router()
router.register("jobs", views.JobViewSet, basename="job")

urlpatterns = [
    *router.urls,
    path("tenancies/<int:tenancy_id>/jobs/", views.TenancyJobListView.as_view(), name="tenancy-jobs"),
    path("tenancies/<int:tenancy_id>/sync/", views.TenancySyncView.as_view(), name="tenancy-sync"),
]
