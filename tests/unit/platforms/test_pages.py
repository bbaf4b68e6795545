"""The tenancy's platform catalogue page and a type's page with its generated form."""

import pytest

from apps.platforms.loader import platform_types_sync
from apps.platforms.models import PlatformType
from apps.platforms.text import markdown_html, usage_fill
from tests.factories import PlatformTypeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def workstation(physics, catalogue):
    platform_types_sync()  # the repository's terraform/
    ptype = PlatformType.objects.get(name="workstation")
    ptype.tenancies.add(physics)
    return ptype


def test_the_catalogue_shows_the_tenancys_types_as_cards(physicist_client, physics, biology, workstation):
    PlatformTypeFactory(name="theirs", label="Biology's own").tenancies.add(biology)
    PlatformTypeFactory(
        name="scripted", label="Scripted", description="<script>alert(1)</script> *fine*"
    ).tenancies.add(physics)
    page = physicist_client.get(f"/tenancies/{physics.pk}/platform-types/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="platform-type-workstation"' in html
    assert "Linux workstation" in html
    assert "<strong>data volume</strong>" in html
    assert 'src="data:image/svg+xml;base64,' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <em>fine</em>" in html
    assert "Biology's own" not in html
    assert f'href="/tenancies/{physics.pk}/platform-types/"' in html  # in the tenancy's navigation


def test_another_tenancys_catalogue_and_types_are_404(physicist_client, biology, physics, workstation):
    assert physicist_client.get(f"/tenancies/{biology.pk}/platform-types/").status_code == 404
    PlatformTypeFactory(name="theirs").tenancies.add(biology)
    assert physicist_client.get(f"/tenancies/{physics.pk}/platform-types/theirs/").status_code == 404


def test_the_type_page_shows_its_form_with_defaults(physicist_client, physics, workstation):
    html = physicist_client.get(f"/tenancies/{physics.pk}/platform-types/workstation/").content.decode()
    assert "Data volume (GB)" in html
    assert "Web console" in html
    assert '<option value="size-small" selected>small' in html
    assert '<option value="img-debian" selected>Debian 12</option>' in html
    assert "tiny" not in html  # under the size's minimum RAM


def test_a_bad_value_comes_back_as_a_field_error_and_good_ones_are_projected(physicist_client, physics, workstation):
    url = f"/tenancies/{physics.pk}/platform-types/workstation/"
    form = {"size": "size-small", "image": "img-debian", "data_volume_gb": "5000", "external_ip": "on"}
    bad = physicist_client.post(url, form)
    assert bad.status_code == 400
    assert "At most 1000." in bad.content.decode()
    good = physicist_client.post(url, {**form, "data_volume_gb": "20"}).content.decode()
    assert 'id="platform-params-checked"' in good
    for line in ("Machines: 1", "CPUs: 2", "RAM: 4096 MB", "Volume storage: 20 GB", "External IPs: 1"):
        assert line in good
    assert "Services: SSH, Web console" in good
    no_ip = physicist_client.post(url, {**form, "data_volume_gb": "20", "external_ip": ""}).content.decode()
    assert "External IPs: " not in no_ip
    assert "Services: Web console" in no_ip


def test_usage_placeholders_are_filled_and_markdown_escapes_html():
    text = "ssh debian@{{ outputs.address }} as {{params.user}} on {{ outputs.port }} {{ other.x }}"
    filled = usage_fill(text, outputs={"address": "203.0.113.5"}, params={"user": "ada"})
    assert filled == "ssh debian@203.0.113.5 as ada on … {{ other.x }}"
    assert str(markdown_html("[x](javascript:alert(1)) <b>b</b>")) == (
        "<p>[x](javascript:alert(1)) &lt;b&gt;b&lt;/b&gt;</p>\n"
    )
