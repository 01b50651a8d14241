"""Where patronguard may write: never over a database, never over an existing file without ``--force``.

Every command that writes a file checks its output path here *before* doing
any work, so a refused path leaves everything as it was:

- a database (a file that starts with SQLite's header, or has a SQLite
  journal next to it, or is named ``*.db``/``*.sqlite``/``*.sqlite3``) is never
  overwritten, not even with ``--force``;
- an existing regular file is overwritten only with ``--force``;
- a directory, device, FIFO or dangling symbolic link is never written to;
- the folder the file goes into must be a folder (it is created if missing).
"""
from __future__ import annotations

from pathlib import Path

from .errors import InputError

SQLITE_HEADER = b"SQLite format 3\x00"
DATABASE_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".db3")
_JOURNALS = ("-journal", "-wal", "-shm")


def is_sqlite_file(path: Path) -> bool:
    """True if ``path`` is a regular file that starts with SQLite's header."""
    try:
        with Path(path).open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def looks_like_database(path: Path) -> bool:
    """A SQLite file, a file with a SQLite journal beside it, or a non-empty file named like a database."""
    path = Path(path)
    if is_sqlite_file(path) or any(path.with_name(path.name + j).exists() for j in _JOURNALS):
        return True
    try:
        return path.suffix.lower() in DATABASE_SUFFIXES and path.stat().st_size > 0
    except OSError:
        return False


def check_folder(path: Path, option: str) -> Path:
    """``path`` is a folder or can be made one (nothing in the way that is not a folder)."""
    path = Path(path)
    for part in (path, *path.parents):
        if part.exists() or part.is_symlink():
            if not part.is_dir():
                raise InputError(f"{option}: {part} exists and is not a directory; "
                                 "refusing to write there")
            break
    return path


def check_output_file(path: str | Path, option: str, *, force: bool = False) -> Path:
    """Refuse to write ``path`` if it is a database, not a regular file, or (without ``force``) exists."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise InputError(f"{option}: {path} is a dangling symbolic link; refusing to write through it")
    if path.exists():
        if path.is_dir():
            raise InputError(f"{option}: {path} is a directory; give a file name")
        if not path.is_file():
            raise InputError(f"{option}: {path} exists and is not a regular file; refusing to write to it")
        if looks_like_database(path):
            raise InputError(f"{option}: {path} is a database; refusing to overwrite it (not even with --force)")
        if not force:
            raise InputError(f"{option}: {path} already exists; pass --force to overwrite it")
    check_folder(path.parent, option)
    return path


def check_output_files(paths: list[Path], option: str, *, force: bool = False) -> list[Path]:
    """:func:`check_output_file` for each of several files written together: all pass, or none is written."""
    return [check_output_file(p, option, force=force) for p in paths]
