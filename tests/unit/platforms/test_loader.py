"""Loading platform types: every type in terraform/ passes the checked-in schema (CI runs
this), a bad platform.yaml is refused naming the file and the field, rows follow the
folders (lazily too), and operators' choices survive a reload."""

from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command

from apps.platforms.loader import GONE, platform_type_read, platform_types_read, platform_types_sync
from apps.platforms.models import PlatformType
from apps.platforms.selectors import platform_type_list

REPO_TYPES = Path(settings.BASE_DIR) / "terraform"
GOOD = {
    "name": "lab",
    "label": "Lab",
    "description": "A *lab*.",
    "version": "1.0",
    "parameters": [{"name": "nodes", "kind": "integer", "min": 1, "default": 1}],
}


def write(root: Path, name: str, spec: object, text: str | None = None) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "platform.yaml").write_text(text if text is not None else yaml.safe_dump(spec))
    return folder / "platform.yaml"


def test_every_type_in_the_repository_passes_the_schema():
    loaded = platform_types_read(REPO_TYPES)
    assert "workstation" in [t.name for t in loaded]
    assert [(t.name, t.error) for t in loaded if t.error] == []


def test_the_workstation_declares_its_parameters_and_services():
    spec = platform_type_read(REPO_TYPES / "workstation").spec
    assert spec is not None
    kinds = {p["name"]: (p["kind"], p.get("default")) for p in spec["parameters"]}
    assert kinds == {
        "size": ("cloud_size", "small"),
        "image": ("cloud_image", "Debian 12"),
        "data_volume_gb": ("volume_size", 10),
        "external_ip": ("external_ip", True),
    }
    assert [s["name"] for s in spec["services"]] == ["ssh", "console"]
    assert "{{ outputs.address }}" in spec["usage"]


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (
            {"parameters": [{"name": "nodes", "kind": "integer", "min_length": 2}]},
            "parameters[0] (nodes)",
            "min_length",
        ),
        ({"parameters": [{"name": "nodes", "kind": "float"}]}, "parameters[0] (nodes).kind", "'float' is not one of"),
        ({"version": "latest"}, "version", "does not match"),
        ({"label": None}, "label", "None is not of type 'string'"),
        ({"colour": "red"}, "(top level)", "'colour' was unexpected"),
        ({"name": "other"}, "name", "not the folder's name"),
        (
            {"parameters": [{"name": "size", "kind": "cloud_size", "count_parameter": "nope"}]},
            "parameters[0] (size).count_parameter",
            "not an integer parameter",
        ),
        (
            {"parameters": [{"name": "n", "kind": "integer", "min": 5, "max": 1}]},
            "parameters[0] (n).min",
            "More than max",
        ),
        (
            {"services": [{"name": "web", "label": "Web", "when": {"missing": True}}]},
            "services[0] (web).when",
            "No parameter 'missing'",
        ),
        ({"logo": "logo.png"}, "logo", "No file logo.png"),
    ],
)
def test_a_bad_file_is_refused_naming_the_file_and_the_field(tmp_path, change, field, problem):
    path = write(tmp_path, "lab", {**GOOD, **change})
    loaded = platform_type_read(path.parent)
    assert loaded.spec is None
    assert loaded.error.startswith(f"{path}: {field}: "), loaded.error
    assert problem in loaded.error


def test_dates_may_be_written_bare(tmp_path):
    text = yaml.safe_dump({**GOOD, "changelog": [{"version": "1.0", "notes": "First."}]})
    path = write(tmp_path, "lab", None, text=text.replace("notes:", "date: 2026-12-05\n  notes:"))
    spec = platform_type_read(path.parent).spec
    assert spec is not None
    assert spec["changelog"] == [{"version": "1.0", "date": "2026-12-05", "notes": "First."}]


def test_a_file_that_is_not_yaml_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, "lab", None, text="name: lab\nlabel: [unclosed\n")
    assert platform_type_read(path.parent).error.startswith(f"{path}: line 3: Not YAML")


@pytest.mark.django_db
def test_sync_stores_types_keeps_operators_choices_and_marks_the_refused_and_the_gone(tmp_path, settings, physics):
    settings.ATRIUM_PLATFORM_TYPES_DIR = tmp_path
    write(tmp_path, "lab", GOOD)
    (tmp_path / "lab" / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    write(tmp_path, "broken", {**GOOD, "name": "broken", "version": "x"})
    platform_types_sync()
    lab, broken = PlatformType.objects.get(name="lab"), PlatformType.objects.get(name="broken")
    assert (lab.label, lab.version, lab.valid, lab.parameters[0]["name"]) == ("Lab", "1.0", True, "nodes")
    assert broken.valid is False
    assert broken.error.startswith(f"{tmp_path / 'broken' / 'platform.yaml'}: version: 'x' does not match")
    lab.tenancies.add(physics)

    write(tmp_path, "lab", {**GOOD, "label": "Lab 2", "logo": "logo.svg"})
    (tmp_path / "broken" / "platform.yaml").unlink()
    platform_types_sync()
    lab.refresh_from_db()
    assert (lab.label, list(lab.tenancies.all())) == ("Lab 2", [physics])
    assert lab.logo.startswith("data:image/svg+xml;base64,")
    assert PlatformType.objects.get(name="broken").error == GONE


@pytest.mark.django_db
def test_reads_reload_a_type_whose_file_changed(tmp_path, settings, physicist, physics):
    settings.ATRIUM_PLATFORM_TYPES_DIR = tmp_path
    write(tmp_path, "lab", GOOD)
    platform_types_sync()
    PlatformType.objects.filter(name="lab").update(available_to_all=True)
    assert [t.label for t in platform_type_list(user=physicist)] == ["Lab"]
    write(tmp_path, "lab", {**GOOD, "label": "Lab, edited"})
    assert [t.label for t in platform_type_list(user=physicist)] == ["Lab, edited"]
    write(tmp_path, "lab", {**GOOD, "version": "oops"})
    assert list(platform_type_list(user=physicist)) == []  # refused: offered to no one


@pytest.mark.django_db
def test_the_command_loads_and_fails_naming_each_refused_file(tmp_path, settings, capsys):
    settings.ATRIUM_PLATFORM_TYPES_DIR = tmp_path
    write(tmp_path, "lab", GOOD)
    call_command("platform_types_sync")
    assert "lab: loaded" in capsys.readouterr().out
    bad = write(tmp_path, "bad", {**GOOD, "name": "bad", "parameters": [{"name": "x", "kind": "string", "min": 1}]})
    with pytest.raises(CommandError, match="1 of 2 platform types"):
        call_command("platform_types_sync")
    assert f"{bad}: parameters[0] (x): " in capsys.readouterr().err
