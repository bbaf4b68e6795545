"""/api/v1/tenancies/{t}/machines/{id}/firewall-rules/: list from the database, create
and delete answer 202 with the job, bad input 400 with field messages (nothing stored),
wrong state 409, another tenancy's machine or rule 404."""

import pytest

from apps.clouds.models import LocalFirewallRule
from apps.jobs.models import Job
from apps.machines.models import FirewallRule, Machine
from tests.factories import FirewallRuleFactory

from .test_api import accepted, error, post, url


def rules_url(machine, rest: str = "") -> str:
    return url(machine.tenancy, f"machines/{machine.pk}/firewall-rules/{rest}")


def test_list_shows_the_rules_in_words(physicist_client, machine):
    body = physicist_client.get(rules_url(machine)).json()
    assert body["count"] == 2
    ssh, icmp = body["results"]
    assert {k: ssh[k] for k in ("protocol", "port_min", "port_max", "remote_cidr", "description", "task")} == {
        "protocol": "tcp",
        "port_min": 22,
        "port_max": 22,
        "remote_cidr": "0.0.0.0/0",
        "description": "TCP port 22 (SSH) from anywhere",
        "task": "",
    }
    assert icmp["description"] == "ICMP (ping) from anywhere"
    assert ssh["url"].endswith(rules_url(machine, f"{ssh['id']}/"))
    assert physicist_client.get(ssh["url"]).json()["id"] == ssh["id"]
    assert physicist_client.get(url(machine.tenancy, f"machines/{machine.pk}/")).json()["firewall"] is True


def test_create_answers_202_with_the_job_and_the_rule_listed_at_once(physicist_client, machine):
    response = post(
        physicist_client, rules_url(machine), {"protocol": "tcp", "port_min": 8888, "remote_cidr": "192.0.2.0/24"}
    )
    assert response.status_code == 202, response.content
    created = response.json()["firewall_rule"]
    assert created["description"] == "TCP port 8888 (Jupyter) from 192.0.2.0/24"
    listed = physicist_client.get(created["url"]).json()
    assert (listed["task"], listed["created_by"]) == ("adding", "physicist")
    accepted(response)
    assert physicist_client.get(created["url"]).json()["task"] == ""
    assert LocalFirewallRule.objects.filter(port_min=8888, remote_cidr="192.0.2.0/24").exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"protocol"}),
        ({"protocol": "gopher"}, {"protocol"}),
        ({"protocol": "tcp", "port_min": "eighty"}, {"port_min"}),
        ({"protocol": "tcp"}, {"port_min"}),
        ({"protocol": "tcp", "port_min": 443, "port_max": 80}, {"port_max"}),
        ({"protocol": "icmp", "port_min": 1}, {"port_min"}),
        ({"protocol": "udp", "port_min": 53, "remote_cidr": "300.1.2.3"}, {"remote_cidr"}),
        ({"protocol": "tcp", "port_min": 22}, {"port_min"}),  # the machine lets that in already
    ],
)
def test_bad_input_is_400_with_fields_and_nothing_stored(physicist_client, machine, body, fields):
    before = (FirewallRule.objects.count(), Job.objects.count())
    problem = error(post(physicist_client, rules_url(machine), body), 400)
    assert set(problem["fields"]) == fields
    assert (FirewallRule.objects.count(), Job.objects.count()) == before


def test_wrong_state_is_409(physicist_client, machine):
    Machine.objects.filter(pk=machine.pk).update(status="ERROR")
    problem = error(post(physicist_client, rules_url(machine), {"protocol": "tcp", "port_min": 80}), 409)
    assert "edit its firewall when it is active or stopped" in problem["message"]


def test_delete_answers_202_and_the_rule_goes(physicist_client, machine):
    icmp = FirewallRule.objects.get(machine=machine, protocol="icmp")
    response = physicist_client.delete(rules_url(machine, f"{icmp.pk}/"))
    assert physicist_client.get(rules_url(machine, f"{icmp.pk}/")).json()["task"] == "removing"
    accepted(response)
    assert physicist_client.get(rules_url(machine, f"{icmp.pk}/")).status_code == 404
    assert error(physicist_client.delete(rules_url(machine, "999999/")), 404)["code"] == "not_found"


def test_another_tenancys_machine_and_rules_are_404(physicist_client, machine, biology):
    rule = FirewallRuleFactory(machine__tenancy=biology, machine__name="theirs", protocol="icmp")
    theirs = rule.machine
    assert physicist_client.get(rules_url(theirs)).status_code == 404
    assert physicist_client.get(rules_url(theirs, f"{rule.pk}/")).status_code == 404
    assert physicist_client.delete(rules_url(theirs, f"{rule.pk}/")).status_code == 404
    # a bad body changes nothing: the machine is not found first
    assert post(physicist_client, rules_url(theirs), {"protocol": "nonsense"}).status_code == 404
    # their rule under our machine's URL is not ours either
    assert physicist_client.get(rules_url(machine, f"{rule.pk}/")).status_code == 404
    assert FirewallRule.objects.get(pk=rule.pk).task == ""
