import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from apps.accounts.models import User
from apps.platforms.models import PlatformType
from apps.tenancies.models import Membership


@pytest.mark.django_db
def test_demo_users_can_sign_in_and_see_their_tenancy():
    call_command("load_demo")
    for username, tenancy in (("physicist", "Physics"), ("biologist", "Biology")):
        client = Client()
        assert client.login(username=username, password=username)
        assert tenancy in client.get("/").content.decode()
    operator = User.objects.get(username="operator")
    assert operator.is_staff
    assert not Membership.objects.filter(user=operator).exists()


@pytest.mark.django_db
def test_the_demo_tenancies_may_use_the_repositorys_platform_types_until_an_operator_says_otherwise():
    call_command("load_demo")
    client = Client()
    assert client.login(username="biologist", password="biologist")
    tenancy = Membership.objects.get(user__username="biologist").tenancy
    assert "Linux workstation" in client.get(f"/tenancies/{tenancy.pk}/platform-types/").content.decode()
    PlatformType.objects.get(name="workstation").tenancies.remove(tenancy)
    call_command("load_demo")
    assert "Linux workstation" not in client.get(f"/tenancies/{tenancy.pk}/platform-types/").content.decode()


@pytest.mark.django_db
def test_loading_again_keeps_what_people_changed():
    call_command("load_demo")
    user = User.objects.get(username="physicist")
    user.set_password("a-new-password")
    user.save()
    call_command("load_demo")
    assert User.objects.get(username="physicist").check_password("a-new-password")
    assert User.objects.filter(username="physicist").count() == 1


@pytest.mark.django_db
@override_settings(ATRIUM_EMBEDDED=False)
def test_demo_data_is_refused_outside_the_embedded_mode():
    with pytest.raises(CommandError, match="only for the embedded mode"):
        call_command("load_demo")
    assert not User.objects.exists()
