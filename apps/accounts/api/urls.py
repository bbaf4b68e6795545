from django.urls import path

from apps.core.api import Router

from . import views

router = Router()
router.register("tokens", views.ApiTokenViewSet, basename="token")
router.register("ssh-keys", views.SshPublicKeyViewSet, basename="ssh-key")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    *router.urls,
]
