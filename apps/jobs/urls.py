from django.urls import path

from . import views

app_name = "jobs"

# Included under /tenancies/<tenancy_id>/ (the tenancy is always in the URL).
urlpatterns = [
    path("jobs/", views.job_list, name="list"),
    path("jobs/<int:job_id>/", views.job_detail, name="detail"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel_view, name="cancel"),
    path("sync/", views.tenancy_sync_view, name="sync"),
]

operator_urlpatterns = [
    path("jobs/", views.operator_jobs, name="jobs"),
]
