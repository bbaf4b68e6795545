from apps.core.api import Router

from . import views

router = Router()
router.register("platform-types", views.PlatformTypeViewSet, basename="platform-type")

urlpatterns = [*router.urls]
