"""`make install`: Atrium's provider as a Terraform filesystem mirror, and the CLI configuration
that points Terraform at it.

`python -m apps.platforms.provider.install [VAR_DIR]` (default `var/`) writes
- `VAR_DIR/terraform-provider/terraform-provider-atrium`: a wrapper running `main.py` with this
  Python (absolute paths: Terraform runs it from a copy in each module's `.terraform/`);
- `VAR_DIR/terraform-plugins/`: the mirror (`tf.runner.install_provider`);
- `VAR_DIR/terraformrc`: the configuration to give Terraform as TF_CLI_CONFIG_FILE: Atrium's
  provider from the mirror, the providers /opt/tf-plugins holds (this machine kind's AWS
  provider) from there, any other from the registry.
Running it again rewrites the same files.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from tf.runner import install_provider  # type: ignore[import-untyped]

from . import HOST, NAME, NAMESPACE, VERSION

#: Where this machine kind keeps other providers (the AWS provider).
SYSTEM_MIRROR = Path("/opt/tf-plugins")


def provider_install(var_dir: Path, *, python: str | None = None) -> Path:
    """Install the provider under `var_dir`; answers the CLI configuration file's path."""
    var_dir = var_dir.resolve()
    main = Path(__file__).resolve().with_name("main.py")
    script = var_dir / "terraform-provider" / f"terraform-provider-{NAME}"
    script.parent.mkdir(parents=True, exist_ok=True)
    wrapper = f'#!/bin/sh\nexec {shlex.quote(python or sys.executable)} {shlex.quote(str(main))} "$@"\n'
    _write(script, wrapper)
    script.chmod(0o755)
    plugins = var_dir / "terraform-plugins"
    install_provider(HOST, NAMESPACE, NAME, VERSION, plugins, script)
    config = var_dir / "terraformrc"
    _write(config, cli_config(plugins))
    return config


def cli_config(plugins: Path, system_mirror: Path = SYSTEM_MIRROR) -> str:
    """Atrium's provider from `plugins` only; the providers `system_mirror` holds from there only
    (Terraform asks every method a provider matches, and fails when the registry cannot be
    reached); any other from the registry."""
    ours = f"{HOST}/*/*"
    local = sorted(
        "/".join(path.relative_to(system_mirror).parts) for path in system_mirror.glob("*/*/*") if path.is_dir()
    )
    blocks = [_method("filesystem_mirror", path=str(plugins), include=[ours])]
    if local:
        blocks.append(_method("filesystem_mirror", path=str(system_mirror), include=local))
    blocks.append(_method("direct", exclude=[ours, *local]))
    return "provider_installation {\n" + "".join(blocks) + "}\n"


def _method(kind: str, **settings: str | list[str]) -> str:
    lines = [f"    {name} = {json.dumps(value)}" for name, value in settings.items()]
    return f"  {kind} {{\n" + "\n".join(lines) + "\n  }\n"


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


if __name__ == "__main__":
    sys.stdout.write(f"{provider_install(Path(sys.argv[1] if len(sys.argv) > 1 else 'var'))}\n")
