#!/usr/bin/env python
"""The executable Terraform starts for Atrium's provider (through the wrapper `install.py` lays
out in the filesystem mirror): Django set up from the environment it inherits from the Atrium
process that runs Terraform (DJANGO_SETTINGS_MODULE, DATABASE_URL...), then the provider's
gRPC server (`tf.runner.run_provider`). Nothing may write to stdout before the handshake."""

import os
import sys
from pathlib import Path


def main() -> None:
    root = str(Path(__file__).resolve().parents[3])
    if root not in sys.path:
        sys.path.insert(0, root)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")
    import django

    django.setup()
    from tf.runner import run_provider  # type: ignore[import-untyped]

    from apps.platforms.provider.provider import AtriumProvider

    run_provider(AtriumProvider(), sys.argv)


if __name__ == "__main__":
    main()
