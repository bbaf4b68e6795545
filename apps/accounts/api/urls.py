from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("tokens", views.ApiTokenViewSet, basename="token")
router.register("ssh-keys", views.SshPublicKeyViewSet, basename="ssh-key")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    *router.urls,
]
