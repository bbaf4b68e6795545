from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("tenancies", views.TenancyViewSet, basename="tenancy")

urlpatterns = router.urls
