"""The network family's contract: each machine's own firewall (the shared one until its rules change)
and external IPs."""

import pytest

from apps.clouds import dto, errors
from tests.contract.conftest import CloudUnderTest

S = dto.MachineStatus


def test_each_machine_has_a_firewall_of_its_own(cut: CloudUnderTest):
    if not cut.driver.capabilities().firewall:
        with pytest.raises(errors.Unsupported):
            cut.driver.machine_firewall(machine_id="any")
        pytest.skip("this cloud offers no machine firewalls (checked that asking raises Unsupported)")
    web = cut.boot("contract-fw-web")
    other = cut.boot("contract-fw-other")
    cut.wait_status(web.id, S.ACTIVE)
    P = dto.FirewallProtocol
    opened = {
        (r.protocol, r.port_min, r.port_max, r.remote_cidr) for r in cut.driver.machine_firewall(machine_id=web.id)
    }
    assert (P.TCP, 22, 22, "0.0.0.0/0") in opened  # SSH from anywhere, to start with
    assert (P.ICMP, None, None, "0.0.0.0/0") in opened

    jupyter = cut.driver.machine_firewall_rule_add(
        machine_id=web.id, protocol="tcp", port_min=8888, remote_cidr="192.0.2.7"
    )
    assert (jupyter.protocol, jupyter.port_min, jupyter.port_max, jupyter.remote_cidr) == (
        P.TCP,
        8888,
        8888,
        "192.0.2.7/32",
    )
    assert jupyter.id in {r.id for r in cut.driver.machine_firewall(machine_id=web.id)}
    assert jupyter.id not in {r.id for r in cut.driver.machine_firewall(machine_id=other.id)}
    cut.wait_status(other.id, S.ACTIVE)
    # All at once, as the sync reads them: the same rules, each machine its own.
    every = cut.driver.machine_firewalls(machine_ids=[web.id, other.id, "no-such-machine"])
    assert set(every) == {web.id, other.id}
    for machine in (web, other):
        assert sorted(r.id for r in every[machine.id] or []) == sorted(
            r.id for r in cut.driver.machine_firewall(machine_id=machine.id)
        )
    with pytest.raises(errors.InvalidOperation):
        cut.driver.machine_firewall_rule_add(machine_id=web.id, protocol="tcp", port_min=8888, remote_cidr="192.0.2.7")
    with pytest.raises(errors.BadInput) as caught:
        cut.driver.machine_firewall_rule_add(
            machine_id=web.id, protocol="tcp", port_min=9000, port_max=8000, remote_cidr="nowhere"
        )
    assert set(caught.value.fields) == {"port_max", "remote_cidr"}
    with pytest.raises(errors.NotFound):  # another machine's rule is not this one's to remove
        cut.driver.machine_firewall_rule_remove(machine_id=other.id, rule_id=jupyter.id)

    cut.driver.machine_firewall_rule_remove(machine_id=web.id, rule_id=jupyter.id)
    assert jupyter.id not in {r.id for r in cut.driver.machine_firewall(machine_id=web.id)}
    with pytest.raises(errors.NotFound):
        cut.driver.machine_firewall_rule_remove(machine_id=web.id, rule_id=jupyter.id)
    cut.driver.machine_delete(machine_id=web.id)
    cut.wait_gone(web.id)
    with pytest.raises(errors.NotFound):
        cut.driver.machine_firewall(machine_id=web.id)


def test_machines_with_the_default_rules_share_one_security_group(cut: CloudUnderTest):
    """Machines start in the project's shared firewall, so a project's machines fit the cloud's
    security-group quota; the first change of one machine's rules gives it a group of its own."""
    if not cut.driver.capabilities().firewall:
        pytest.skip("this cloud offers no machine firewalls")

    def groups_used() -> int:
        return next(q.used for q in cut.driver.quotas() if q.resource == "firewalls")

    shared = cut.driver.firewall_shared()
    assert cut.driver.firewall_shared().id == shared.id  # one per project, made once
    P = dto.FirewallProtocol
    assert {(r.protocol, r.port_min, r.remote_cidr) for r in shared.rules} >= {
        (P.TCP, 22, "0.0.0.0/0"),
        (P.ICMP, None, "0.0.0.0/0"),
    }
    before = groups_used()
    first = cut.driver.machine_create(
        name="contract-share-1", image_id=cut.image_id, size_id=cut.size_id, firewall_id=shared.id
    )
    cut.cleanups.append(lambda: cut._delete_quietly(first.id))
    second = cut.boot("contract-share-2")  # the driver finds the shared firewall itself
    for machine in (first, second):
        cut.wait_status(machine.id, S.ACTIVE)
        assert cut.driver.machine_firewall_shared(machine_id=machine.id)
    assert groups_used() == before  # two machines, no new security group
    rules = {m.id: cut.driver.machine_firewall(machine_id=m.id) for m in (first, second)}
    assert {r.key for r in rules[first.id]} == {r.key for r in rules[second.id]} == {r.key for r in shared.rules}
    assert not {r.id for r in rules[first.id]} & {r.id for r in rules[second.id]}  # each machine its own ids
    every = cut.driver.machine_firewalls(machine_ids=[first.id, second.id])
    assert {r.id for r in every[first.id] or []} == {r.id for r in rules[first.id]}

    # Closing SSH on the first machine gives it a group of its own; the second keeps the shared one.
    ssh = next(r for r in rules[first.id] if r.protocol == P.TCP and r.port_min == 22)
    cut.driver.machine_firewall_rule_remove(machine_id=first.id, rule_id=ssh.id)
    assert not cut.driver.machine_firewall_shared(machine_id=first.id)
    assert {r.key for r in cut.driver.machine_firewall(machine_id=first.id)} == {r.key for r in shared.rules} - {
        ssh.key
    }
    assert cut.driver.machine_firewall_shared(machine_id=second.id)
    assert {r.key for r in cut.driver.machine_firewall(machine_id=second.id)} == {r.key for r in shared.rules}
    assert groups_used() == before + 1

    cut.driver.machine_delete(machine_id=first.id)  # its own group goes with it
    cut.wait_gone(first.id)
    cut.wait_for("the machine's own security group released", lambda: groups_used() == before)
    assert cut.driver.firewall_shared().id == shared.id  # the shared one stays


def test_external_ip_allocate_attach_detach_release(cut: CloudUnderTest):
    if not cut.driver.capabilities().external_ips:
        pytest.skip("this driver does not offer external IPs")
    machine = cut.boot("contract-ip")
    cut.wait_status(machine.id, S.ACTIVE)
    ip = cut.driver.external_ip_allocate()
    cut.cleanups.append(lambda: cut.driver.external_ip_release(ip_id=ip.id))
    assert ip.address
    assert ip.machine_id is None
    attached = cut.driver.external_ip_attach(ip_id=ip.id, machine_id=machine.id)
    assert attached.machine_id == machine.id
    cut.wait_for(
        "address shown on the machine", lambda: cut.driver.machine_get(machine_id=machine.id).external_ip == ip.address
    )
    detached = cut.driver.external_ip_detach(ip_id=ip.id)
    assert detached.machine_id is None
    cut.driver.external_ip_release(ip_id=ip.id)
    cut.cleanups.pop()
    assert ip.id not in {i.id for i in cut.driver.external_ips()}
    with pytest.raises(errors.NotFound):
        cut.driver.external_ip_attach(ip_id=ip.id, machine_id=machine.id)
