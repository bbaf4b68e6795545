"""The shared resource layer on its own: reconcile, observe, row_act, row_create, row_get."""

from types import SimpleNamespace

import pytest

from apps.clouds import dto
from apps.core.errors import Conflict, NotFound
from apps.core.resources.jobs import reconcile
from apps.core.resources.selectors import row_get, tenancy_rows
from apps.core.resources.services import Started, observe, row_act, row_create
from apps.jobs.models import JobLock
from apps.machines.models import Volume


def _row(pk, cloud_id, **fields):
    return SimpleNamespace(pk=pk, cloud_id=cloud_id, **fields)


def test_reconcile_observes_adopts_matches_drops_and_leaves_busy_rows():
    known, busy_row, gone, busy_gone, unmade = (
        _row(1, "a"),
        _row(2, "b"),
        _row(3, "c"),
        _row(4, "d"),
        _row(5, "", tag="t"),
    )
    seen = [
        SimpleNamespace(id="a"),
        SimpleNamespace(id="b"),
        SimpleNamespace(id="new"),
        SimpleNamespace(id="x", tag="t"),
    ]
    observed: list[tuple[int, str]] = []
    adopted: list[SimpleNamespace] = []
    dropped: list[SimpleNamespace] = []

    def adopt(item):
        row = _row(99, item.id)
        adopted.append(row)
        return row

    counts = reconcile(
        [known, busy_row, gone, busy_gone, unmade],
        seen,
        adopt=adopt,
        observe=lambda row, item: observed.append((row.pk, item.id)),
        busy={2, 4},
        match=lambda item: unmade if getattr(item, "tag", None) == "t" else None,
        gone=dropped.append,
    )

    assert observed == [(1, "a"), (99, "new"), (5, "x")]  # the busy row is left to its job
    assert [r.cloud_id for r in adopted] == ["new"]
    assert dropped == [gone]  # not the busy one the cloud no longer lists
    assert (counts.seen, counts.adopted, counts.gone) == (4, 1, 1)


@pytest.mark.django_db
def test_observe_writes_and_tells_pages_only_when_something_changed(physics, django_capture_on_commit_callbacks):
    volume = Volume.objects.create(
        tenancy=physics, name="data", size_gb=5, cloud_id="v1", status=dto.VolumeStatus.AVAILABLE
    )
    with django_capture_on_commit_callbacks() as told:
        assert observe(volume, {"cloud_id": "v1", "status": dto.VolumeStatus.AVAILABLE, "size_gb": 5}) is False
    assert told == []
    assert Volume.objects.get().observed_at is not None

    with django_capture_on_commit_callbacks() as told:
        assert observe(volume, {"status": dto.VolumeStatus.IN_USE, "size_gb": 5}) is True
    assert len(told) == 1
    assert Volume.objects.get().status == dto.VolumeStatus.IN_USE


@pytest.mark.django_db
def test_row_create_and_row_act_answer_the_row_and_its_job(physics, physicist):
    started = row_create(
        Volume, kind="machines.volume_create", task="creating", user=physicist, tenancy=physics, name="d", size_gb=1
    )
    assert isinstance(started, Started)
    volume, job = started
    assert (volume.task, volume.created_by, job.kind) == ("creating", physicist, "machines.volume_create")
    assert job.target_id == str(volume.pk)

    with pytest.raises(Conflict, match="is creating; try again"):
        row_act(volume, kind="machines.volume_delete", task="deleting", user=physicist)

    Volume.objects.filter(pk=volume.pk).update(task="")
    JobLock.objects.all().delete()  # the create's job no longer holds the row

    def refuse(row):
        raise Conflict(f"{row.name} cannot go now.")

    with pytest.raises(Conflict, match="cannot go now"):
        row_act(volume, kind="machines.volume_delete", task="deleting", user=physicist, check=refuse)
    assert Volume.objects.get().task == ""

    row, job = row_act(volume, kind="machines.volume_delete", task="deleting", user=physicist)
    assert (row.task, Volume.objects.get().task, job.kind) == ("deleting", "deleting", "machines.volume_delete")


@pytest.mark.django_db
def test_another_tenancys_rows_are_not_found(physics, biology, physicist):
    theirs = Volume.objects.create(tenancy=biology, name="theirs", size_gb=1)
    tenancy, rows = tenancy_rows(Volume, user=physicist, tenancy_id=physics.pk)
    assert tenancy == physics
    with pytest.raises(NotFound, match="No such volume"):
        row_get(rows, theirs.pk, "No such volume.")
    with pytest.raises(NotFound):
        tenancy_rows(Volume, user=physicist, tenancy_id=biology.pk)
