"""The network family's contract: each machine's own firewall and external IPs."""

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
