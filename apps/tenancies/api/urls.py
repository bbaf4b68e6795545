from apps.core.api import Router

from . import views

router = Router()
router.register("tenancies", views.TenancyViewSet, basename="tenancy")

urlpatterns = router.urls
