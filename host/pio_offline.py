"""Set up PlatformIO to build tinyml firmware without any registry (idempotent, quick).

PlatformIO 6.2 installs a local platform (``platform = symlink://boards/platform``), but
``pio run`` then wants its core package ``tool-scons`` from the registry, and our platform
wants a toolchain package. Both are created here as local packages in
``$PLATFORMIO_CORE_DIR/packages``:

- ``tool-scons``: a ``scons.py`` that runs the SCons of this Python environment (PyPI
  ``scons==4.11.1``, a project dependency), with a package.json at version 4.41101.0 and a
  ``.piopm`` naming owner ``platformio``, which is what PlatformIO looks for.
- ``toolchain-armnoneeabi-system``: ``bin/`` links to the Debian ``arm-none-eabi-*`` tools.

Run ``python -m host.pio_offline`` (the Makefile does); ``ensure()`` is also called by
``tinyml build``. Telemetry and update checks are switched off through environment settings.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from toolchain.errors import TinymlError
from toolchain.paths import REPO_ROOT

SCONS_VERSION = "4.41101.0"  # PlatformIO's encoding of SCons 4.11.1
TOOLCHAIN_PACKAGE = "toolchain-armnoneeabi-system"
TOOLCHAIN_PREFIX = "arm-none-eabi-"
PIO_SETTINGS = {
    "PLATFORMIO_SETTING_ENABLE_TELEMETRY": "No",
    "PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL": "3650",
    "PLATFORMIO_SETTING_CHECK_PRUNE_SYSTEM_THRESHOLD": "0",
}


def core_dir() -> Path:
    """The PlatformIO core folder: $PLATFORMIO_CORE_DIR, else ``.pio-core`` in the checkout."""
    return Path(os.environ.get("PLATFORMIO_CORE_DIR", REPO_ROOT / ".pio-core")).resolve()


def pio_environ() -> dict[str, str]:
    """Environment for running ``pio``: the core folder and offline settings."""
    env = dict(os.environ)
    env["PLATFORMIO_CORE_DIR"] = str(core_dir())
    env.update({k: env.get(k, v) for k, v in PIO_SETTINGS.items()})
    return env


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _piopm(name: str, version: str, owner: str, kind: str) -> str:
    return json.dumps(
        {
            "type": kind,
            "name": name,
            "version": version,
            "spec": {"owner": owner, "id": None, "name": name, "requirements": None, "uri": None},
        }
    )


def _scons_package(packages: Path) -> None:
    try:
        import SCons  # noqa: F401  (the PyPI scons distribution)
    except ImportError as err:
        raise TinymlError(
            "SCons is not installed in this Python environment; PlatformIO needs it offline. "
            "Install the project (`pip install -e .`), which depends on scons==4.11.1."
        ) from err
    site = str(Path(SCons.__path__[0]).parent)
    pkg = packages / "tool-scons"
    pkg.mkdir(parents=True, exist_ok=True)
    _write_if_changed(
        pkg / "package.json",
        json.dumps(
            {
                "name": "tool-scons",
                "version": SCONS_VERSION,
                "description": "SCons from PyPI (scons==4.11.1), set up by tinyml offline",
            }
        ),
    )
    _write_if_changed(pkg / ".piopm", _piopm("tool-scons", SCONS_VERSION, "platformio", "tool"))
    _write_if_changed(
        pkg / "scons.py",
        "# Runs the SCons installed from PyPI in the tinyml environment.\n"
        "import sys\n"
        f"sys.path.insert(0, {site!r})\n"
        "import SCons.Script\n"
        "SCons.Script.main()\n",
    )


def _toolchain_package(packages: Path) -> None:
    gcc = shutil.which(TOOLCHAIN_PREFIX + "gcc")
    if not gcc:
        raise TinymlError(
            "arm-none-eabi-gcc not found on PATH; install the Debian packages "
            "gcc-arm-none-eabi and libnewlib-arm-none-eabi (`make setup` does)."
        )
    tool_dir = Path(gcc).resolve().parent
    pkg = packages / TOOLCHAIN_PACKAGE
    bin_dir = pkg / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in sorted(tool_dir.glob(TOOLCHAIN_PREFIX + "*")):
        link = bin_dir / tool.name
        if link.is_symlink() and os.readlink(link) == str(tool):
            continue
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(tool)
    _write_if_changed(
        pkg / "package.json",
        json.dumps(
            {
                "name": TOOLCHAIN_PACKAGE,
                "version": "12.2.1",
                "description": f"links to the system arm-none-eabi toolchain in {tool_dir}",
            }
        ),
    )
    _write_if_changed(pkg / ".piopm", _piopm(TOOLCHAIN_PACKAGE, "12.2.1", "tinyml", "tool"))


def ensure() -> Path:
    """Create the offline packages when missing or stale; return the core folder."""
    core = core_dir()
    packages = core / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    _scons_package(packages)
    _toolchain_package(packages)
    return core


def main() -> int:
    core = ensure()
    print(f"PlatformIO set up offline in {core}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
