"""The firewall panel of the machine page: the rules in words, the add form (its
errors re-rendered, never a 500), removing with a confirmation, htmx fragments,
live fragments, and a page that asks the database the same whatever the rules."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.jobs.models import Job
from apps.machines.live import _detail
from apps.machines.models import FirewallRule, Machine
from tests.factories import FirewallRuleFactory, MachineFactory

from .conftest import offers
from .test_services import create, run_latest


def page(client, machine) -> str:
    response = client.get(reverse("machines:machine-detail", args=[machine.tenancy_id, machine.pk]))
    assert response.status_code == 200
    return response.content.decode()


def add_url(machine) -> str:
    return reverse("machines:machine-firewall-rule-add", args=[machine.tenancy_id, machine.pk])


def remove_url(rule) -> str:
    return reverse("machines:machine-firewall-rule-delete", args=[rule.tenancy_id, rule.machine_id, rule.pk])


def test_the_panel_lists_the_rules_in_words_with_the_add_form(physicist_client, machine):
    html = page(physicist_client, machine)
    assert 'id="machine-firewall"' in html
    assert 'data-firewall-rule="TCP port 22 (SSH) from anywhere"' in html
    assert 'data-firewall-rule="ICMP (ping) from anywhere"' in html
    assert "22 SSH, 80 and 443 web, 8888 Jupyter" in html  # the hint on common ports
    assert 'placeholder="anywhere"' in html
    assert f'hx-post="{add_url(machine)}"' in html
    ssh = FirewallRule.objects.get(machine=machine, port_min=22)
    assert f'href="{remove_url(ssh)}"' in html  # works without JavaScript: the confirmation page
    assert 'hx-confirm="Remove TCP port 22 (SSH) from anywhere from the firewall of web? SSH connections' in html


def test_the_panel_is_hidden_without_the_capability_or_for_machines_made_outside(physics, physicist_client, machine):
    offers(physics, firewall=False)
    assert 'id="machine-firewall"' not in page(physicist_client, machine)
    offers(physics, firewall=True)
    found = MachineFactory(tenancy=physics, name="found", external=True)
    assert 'id="machine-firewall"' not in page(physicist_client, found)


def test_a_building_machine_says_what_its_firewall_will_let_in(physics, physicist, physicist_client, ubuntu, small):
    building = create(physics, physicist, ubuntu, small, name="soon")
    assert "lets in SSH and ping from anywhere, to start with" in page(physicist_client, building)
    Machine.objects.filter(pk=building.pk).update(has_firewall=False)
    html = page(physicist_client, building)
    assert "has no firewall of its own in Atrium" in html
    assert f'action="{add_url(building)}"' not in html


def test_adding_a_rule_redirects_to_the_page_with_the_rule_adding(physicist_client, machine):
    response = physicist_client.post(add_url(machine), {"protocol": "tcp", "ports": "8888", "remote": "192.0.2.0/24"})
    assert response.status_code == 302
    assert response["Location"].endswith("#machine-firewall")
    html = physicist_client.get(response["Location"]).content.decode()
    assert "Opening TCP port 8888 (Jupyter) from 192.0.2.0/24" in html
    assert 'data-firewall-rule="TCP port 8888 (Jupyter) from 192.0.2.0/24"' in html
    assert "adding…" in html
    rule = FirewallRule.objects.get(port_min=8888)
    run_latest(rule)
    html = page(physicist_client, machine)
    assert "adding…" not in html
    assert "Add firewall rule" in html  # the job is listed with the machine's jobs


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"protocol": "tcp", "ports": "ssh"}, "ports", "A port (8888) or a range (8000-8100)."),
        ({"protocol": "tcp", "ports": ""}, "ports", "TCP and UDP rules need a port."),
        ({"protocol": "tcp", "ports": "9000-8000"}, "ports", "Not below the first port."),
        ({"protocol": "tcp", "ports": "99999"}, "ports", "A port from 1 to 65535."),
        ({"protocol": "icmp", "ports": "8"}, "ports", "ICMP rules have no ports."),
        ({"protocol": "tcp", "ports": "80", "remote": "my office"}, "remote", "An address or network"),
        ({"protocol": "telnet", "ports": "23"}, "protocol", "Select a valid choice."),
        ({"protocol": "tcp", "ports": "22"}, "ports", "TCP port 22 (SSH) from anywhere is open already."),
    ],
)
def test_bad_input_re_renders_the_page_with_the_message_and_keeps_what_was_typed(
    physicist_client, machine, data, field, message
):
    before = (FirewallRule.objects.count(), Job.objects.count())
    response = physicist_client.post(add_url(machine), data)
    html = response.content.decode()
    assert response.status_code == 400
    assert f'data-field-error="{field}"' in html
    assert message in html
    assert f'value="{data["ports"]}"' in html or not data["ports"]
    assert "<h1" in html  # the whole page, not a fragment
    assert (FirewallRule.objects.count(), Job.objects.count()) == before


def test_htmx_gets_the_panel_only_with_errors_or_the_notice(physicist_client, machine):
    response = physicist_client.post(
        add_url(machine), {"protocol": "udp", "ports": "x"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert html.lstrip().startswith('<div class="card mb-4" id="machine-firewall">')
    assert "<h1" not in html
    assert "A port (8888) or a range" in html

    response = physicist_client.post(
        add_url(machine), {"protocol": "udp", "ports": "60000-61000"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="machine-firewall"' in html
    assert "Opening UDP ports 60000-61000 from anywhere" in html
    assert 'data-firewall-rule="UDP ports 60000-61000 from anywhere"' in html
    assert 'value="60000-61000"' not in html  # a fresh form for the next rule


def test_wrong_state_is_a_message_on_the_page_not_a_500(physicist_client, machine):
    Machine.objects.filter(pk=machine.pk).update(status="BUILD")
    response = physicist_client.post(
        add_url(machine), {"protocol": "tcp", "ports": "80"}, HTTP_REFERER=f"http://testserver{add_url(machine)}"
    )
    assert response.status_code == 302
    response = physicist_client.post(
        add_url(machine), {"protocol": "tcp", "ports": "80"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert "edit its firewall when it is active or stopped" in response.content.decode()
    assert response["HX-Retarget"] == "#toasts"
    assert not FirewallRule.objects.filter(port_min=80).exists()


def test_a_reload_of_the_add_url_goes_back_to_the_page(physicist_client, machine):
    response = physicist_client.get(add_url(machine))
    assert response.status_code == 302
    assert response["Location"] == reverse("machines:machine-detail", args=[machine.tenancy_id, machine.pk])


def test_remove_asks_first_then_removes(physicist_client, machine):
    ssh = FirewallRule.objects.get(machine=machine, port_min=22)
    confirm = physicist_client.get(remove_url(ssh))
    html = confirm.content.decode()
    assert confirm.status_code == 200
    assert "Remove TCP port 22 (SSH) from anywhere from the firewall of web?" in html
    assert "SSH connections it lets in will be refused" in html

    response = physicist_client.post(remove_url(ssh))
    assert response.status_code == 302
    html = physicist_client.get(response["Location"]).content.decode()
    assert "Removing TCP port 22 (SSH) from anywhere" in html
    assert "removing…" in html
    run_latest(ssh)
    assert 'data-firewall-rule="TCP port 22 (SSH)' not in page(physicist_client, machine)


def test_remove_with_htmx_answers_the_panel(physicist_client, machine):
    icmp = FirewallRule.objects.get(machine=machine, protocol="icmp")
    response = physicist_client.post(remove_url(icmp), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="machine-firewall"' in html
    assert "Removing ICMP (ping) from anywhere" in html


def test_a_refused_rule_shows_why_and_can_be_dismissed(physicist_client, machine, physicist):
    rule = FirewallRuleFactory(machine=machine, cloud_id="", port_min=25, port_max=25, fault="Port 25 is blocked.")
    html = page(physicist_client, machine)
    assert "Not added: Port 25 is blocked." in html
    assert "Dismiss" in html
    assert "The cloud never had it." in physicist_client.get(remove_url(rule)).content.decode()


def test_another_tenancys_rule_is_404(physicist_client, machine, biology, physics):
    rule = FirewallRuleFactory(machine__tenancy=biology, machine__name="theirs", protocol="icmp")
    theirs = rule.machine
    assert physicist_client.get(remove_url(rule)).status_code == 404
    assert physicist_client.post(remove_url(rule)).status_code == 404
    assert physicist_client.post(add_url(theirs), {"protocol": "tcp", "ports": "80"}).status_code == 404
    # A rule of one machine is not reachable under another machine of the same tenancy either.
    ours = FirewallRule.objects.filter(machine=machine).earliest("pk")
    other = MachineFactory(tenancy=physics, name="other")
    wrong = reverse("machines:machine-firewall-rule-delete", args=[physics.pk, other.pk, ours.pk])
    assert physicist_client.get(wrong).status_code == 404
    assert FirewallRule.objects.filter(pk=rule.pk, task="").exists()


def test_the_live_fragment_carries_the_rules_but_not_the_form(machine):
    FirewallRuleFactory(machine=machine, cloud_id="", port_min=80, port_max=80)
    parts = _detail(machine.tenancy_id, machine.pk)
    rules = next(part for part in parts if 'id="machine-firewall-rules"' in part)
    assert 'hx-swap-oob="true"' in rules
    assert "TCP port 80 (web) from anywhere" in rules
    assert "<form" not in rules  # what the person is typing stays


def test_the_page_makes_the_same_queries_for_2_and_40_rules(physicist_client, machine):
    page(physicist_client, machine)
    with CaptureQueriesContext(connection) as two:
        page(physicist_client, machine)
    for port in range(8000, 8038):
        FirewallRuleFactory(machine=machine, port_min=port, port_max=port, created_by=machine.created_by)
    with CaptureQueriesContext(connection) as forty:
        html = page(physicist_client, machine)
    assert html.count("data-firewall-rule=") == 40
    assert len(forty) == len(two), [q["sql"] for q in forty.captured_queries]


def test_a_superscript_port_is_a_form_message_not_a_500(physicist_client, machine):
    before = FirewallRule.objects.count()
    response = physicist_client.post(add_url(machine), {"protocol": "tcp", "ports": "\u00b2"})
    assert response.status_code == 400
    assert "A port (8888) or a range (8000-8100)." in response.content.decode()
    assert FirewallRule.objects.count() == before
