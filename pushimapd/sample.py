"""The bundled sample mail: where it is, and its writable working copy.

The server and the admin commands never touch the files of
``maildir-sample/``; without ``--maildir-root`` they work on a copy in the
user's state directory, made on first use, with the sample users created.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Optional

SAMPLE_USERS = {"demo": "demo", "alice": "alice"}
DB_NAME = ".pushimapd.sqlite"  # user names cannot start with "."
_STAMP = re.compile(r"^(\d{9,10})\.")


def bundled_sample() -> str:
    """The read-only sample tree (installed package data or the checkout)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "_sample"), os.path.join(os.path.dirname(here), "maildir-sample")):
        if os.path.isdir(os.path.join(candidate, "demo")):
            return candidate
    raise FileNotFoundError("the bundled maildir-sample is missing from this installation")


def state_dir() -> str:
    base = os.environ.get("PUSHIMAPD_STATE_DIR") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "pushimapd")
    return base


def sample_copy_path() -> str:
    return os.path.join(state_dir(), "sample")


def default_db(maildir_root: str) -> str:
    return os.path.join(maildir_root, DB_NAME)


def ensure_sample_copy(reset: bool = False) -> str:
    """Copy the sample (once, or again with ``reset``); return its root."""
    target = sample_copy_path()
    if reset and os.path.isdir(target):
        shutil.rmtree(target)
    if os.path.isdir(target):
        return target
    source = bundled_sample()
    staging = target + ".new"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns("*.py", "*.md", "__pycache__"))
    for dirpath, dirnames, filenames in os.walk(staging):
        os.chmod(dirpath, 0o700)
        if dirpath != staging and os.path.basename(dirpath) in ("cur", "new"):
            for name in filenames:
                path = os.path.join(dirpath, name)
                os.chmod(path, 0o600)
                m = _STAMP.match(name)
                if m:  # git does not keep mtimes: INTERNALDATE comes from the name
                    os.utime(path, (int(m.group(1)), int(m.group(1))))
    for user in os.listdir(staging):
        user_dir = os.path.join(staging, user)
        if not os.path.isdir(user_dir):
            continue
        for folder in [user_dir] + [os.path.join(user_dir, d) for d in os.listdir(user_dir) if d.startswith(".")]:
            if os.path.isdir(folder):
                for sub in ("cur", "new", "tmp"):
                    os.makedirs(os.path.join(folder, sub), exist_ok=True)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.rename(staging, target)
    return target


def ensure_sample_users(users) -> None:
    for name, password in SAMPLE_USERS.items():
        if not users.exists(name):
            users.add(name, password)


def resolve_paths(maildir_root: Optional[str], db: Optional[str], reset_sample: bool = False):
    """(maildir_root, db_path, is_sample) with the CLI contract's defaults."""
    if maildir_root:
        root = os.path.abspath(maildir_root)
        os.makedirs(root, exist_ok=True)
        return root, os.path.abspath(db) if db else default_db(root), False
    root = ensure_sample_copy(reset=reset_sample)
    return root, os.path.abspath(db) if db else default_db(root), True
