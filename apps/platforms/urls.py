from django.urls import path

from . import views

app_name = "platforms"

# Included under /tenancies/<tenancy_id>/ (the tenancy is always in the URL).
urlpatterns = [
    path("platform-types/", views.platform_type_list, name="type-list"),
    path("platform-types/<slug:type_name>/", views.platform_type_detail, name="type-detail"),
]
