from django.urls import path

from . import views

app_name = "tenancies"

urlpatterns = [
    path("<int:tenancy_id>/", views.tenancy_detail, name="detail"),
]
