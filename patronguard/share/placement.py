"""Where a judged file goes: the recipient's folder of the share folder, with its scan record beside it, or
quarantine — never both, never half a file.

A release is a copy put in place atomically (written beside the target as ``.name.part``, then
``os.replace``); the scan record (``name.scan.json``) is written the same way, first, so a released file
never lacks one. Quarantine keeps a copy under its file hash with a record of what blocked it (masked
previews only); the source file is left where it was, and nothing of it reaches the share folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

RECORD_SUFFIX = ".scan.json"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the file went: ``released`` (``path`` in the share folder) or ``quarantined`` (``path`` in
    quarantine), with its record beside it."""

    outcome: str
    path: str
    record: str


def _write_atomically(target: Path, write) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    try:
        write(Path(temp))
        os.chmod(temp, 0o666 & ~_umask())      # as any file written here would be (mkstemp makes it 0600)
        os.replace(temp, target)
    finally:
        Path(temp).unlink(missing_ok=True)


def _write_json(target: Path, data: dict) -> None:
    _write_atomically(target, lambda temp: temp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                                           encoding="utf-8"))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def share_target(source: Path, share_dir: str | Path, to: str) -> Path:
    return Path(share_dir) / to / source.name


def check_share_target(target: Path, sha256: str) -> None:
    """A different file of the same name already released to this recipient is never overwritten."""
    if target.exists() and file_sha256(target) != sha256:
        raise InputError(f"{target}: a different file of this name was already released to this recipient; "
                         "rename the export (nothing was released)")


def release(source: Path, sha256: str, *, share_dir: str | Path, to: str, record: dict) -> Placement:
    """Copy ``source`` (whose content hashes to ``sha256``) into ``<share_dir>/<to>/`` with its record."""
    target = share_target(source, share_dir, to)
    check_share_target(target, sha256)
    record_path = target.with_name(target.name + RECORD_SUFFIX)
    existed = target.exists()               # the same file released before (a retry whose event was lost)
    _write_json(record_path, record)
    try:
        _write_atomically(target, lambda temp: shutil.copyfile(source, temp))
        if file_sha256(target) != sha256:   # the source changed while it was judged: it is not what was scanned
            raise InputError(f"{source}: the file changed while it was scanned; nothing was released")
    except BaseException:
        if not existed:
            target.unlink(missing_ok=True)
            record_path.unlink(missing_ok=True)
        raise
    return Placement("released", str(target), str(record_path))


def quarantine(source: Path, sha256: str, *, quarantine_dir: str | Path, record: dict) -> Placement:
    """Copy ``source`` into ``<quarantine_dir>/<sha256[:16]>-<name>`` with the record of what blocked it."""
    target = Path(quarantine_dir) / f"{sha256[:16]}-{source.name}"
    record_path = target.with_name(target.name + RECORD_SUFFIX)
    _write_json(record_path, record)
    if not target.exists():
        _write_atomically(target, lambda temp: shutil.copyfile(source, temp))
    return Placement("quarantined", str(target), str(record_path))
