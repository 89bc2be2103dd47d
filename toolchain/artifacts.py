"""Build directory with a manifest of content hashes: a stage re-runs only when inputs change.

A stage is identified by name. Its *key* is a hash over the content of its input files and
its parameters; the manifest (``BUILD_DIR/manifest.json``) records, per stage, the key and the
hashes of the outputs it wrote. A stage is fresh when its key matches and every output still
exists with the recorded hash.

Outputs are written into a temporary sibling and moved into place only when the stage
succeeds, so a failed stage leaves no partial artifact.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hash_tree(path: str | os.PathLike, suffixes: Iterable[str] | None = None) -> str:
    """Hash a file, or every file below a folder (names and contents, in sorted order)."""
    root = Path(path)
    if root.is_file():
        return hash_file(root)
    wanted = tuple(suffixes) if suffixes else None
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and (wanted is None or p.name.endswith(wanted)):
            h.update(str(p.relative_to(root)).encode())
            h.update(hash_file(p).encode())
    return h.hexdigest()


def hash_params(params: Any) -> str:
    return hash_bytes(json.dumps(params, sort_keys=True, default=str).encode())


@dataclass
class StageResult:
    name: str
    outputs: dict[str, Path]
    reused: bool


class BuildDir:
    """A build directory and its manifest."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.root / MANIFEST_NAME
        self.manifest: dict[str, Any] = {}
        if self.manifest_path.exists():
            try:
                self.manifest = json.loads(self.manifest_path.read_text())
            except json.JSONDecodeError:
                self.manifest = {}

    def _save(self, stage: str) -> None:
        """Record one stage's entry. Other processes may share the build directory, so the
        manifest is re-read and merged under a lock rather than overwritten from memory."""
        lock_path = self.root / (MANIFEST_NAME + ".lock")
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            on_disk: dict[str, Any] = {}
            if self.manifest_path.exists():
                try:
                    on_disk = json.loads(self.manifest_path.read_text())
                except json.JSONDecodeError:
                    on_disk = {}
            on_disk[stage] = self.manifest[stage]
            self.manifest = on_disk
            tmp = self.manifest_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.manifest, indent=2, sort_keys=True))
            tmp.replace(self.manifest_path)

    def stage_key(self, inputs: Mapping[str, str | os.PathLike], params: Any) -> str:
        parts = {name: hash_tree(p) for name, p in sorted(inputs.items())}
        return hash_params({"inputs": parts, "params": params})

    def is_fresh(self, name: str, key: str) -> bool:
        entry = self.manifest.get(name)
        if not entry or entry.get("key") != key:
            return False
        for rel, digest in entry.get("outputs", {}).items():
            p = self.root / rel
            if not p.exists() or hash_tree(p) != digest:
                return False
        return True

    def run_stage(
        self,
        name: str,
        inputs: Mapping[str, str | os.PathLike],
        params: Any,
        outputs: Iterable[str],
        fn: Callable[[Path], None],
    ) -> StageResult:
        """Run ``fn(tmpdir)`` unless fresh; ``fn`` writes each named output into ``tmpdir``.

        ``outputs`` are paths relative to the build directory (files or folders).
        """
        outputs = list(outputs)
        key = self.stage_key(inputs, params)
        paths = {o: self.root / o for o in outputs}
        if self.is_fresh(name, key):
            return StageResult(name, paths, reused=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.root))
        try:
            fn(tmp)
            for rel in outputs:
                if not (tmp / rel).exists():
                    raise RuntimeError(f"stage {name!r} did not write its output {rel!r}")
            for rel in outputs:
                dest = self.root / rel
                if dest.is_dir():
                    shutil.rmtree(dest)
                elif dest.exists():
                    dest.unlink()
                dest.parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).replace(dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.manifest[name] = {
            "key": key,
            "params": params,
            "outputs": {rel: hash_tree(self.root / rel) for rel in outputs},
        }
        self._save(name)
        return StageResult(name, paths, reused=False)
