"""`pushimapd deliver` as a local delivery agent: sysexits(3) exit codes.

An MTA that pipes mail into `pushimapd deliver` (Postfix pipe(8), procmail,
fetchmail --mda) decides from the exit status whether to bounce the message
or keep it queued: an unknown user is permanent (EX_NOUSER), a malformed
folder name is a data error (EX_DATAERR), and everything that may work later
(a folder not made yet, a full disk, an unreadable database) is EX_TEMPFAIL,
so nothing is lost. Real CLI processes on real Maildirs.
"""

from __future__ import annotations

import os

from conftest import run_cli

EX_DATAERR, EX_NOUSER, EX_TEMPFAIL = 65, 67, 75
MESSAGE = b"From: a@example.org\r\nTo: demo@example.org\r\nSubject: lda\r\n\r\nbody\r\n"


def _user(root: str) -> None:
    done = run_cli("user", "add", "demo", stdin=b"demo\n", root=root)
    assert done.returncode == 0, done.stderr


def _new_files(path: str) -> list:
    return sorted(os.listdir(os.path.join(path, "new")))


def test_delivered_exactly_and_exit_status_zero(tmp_path):
    root = str(tmp_path)
    _user(root)
    done = run_cli("deliver", "demo", stdin=MESSAGE, root=root)
    assert done.returncode == 0, done.stderr
    (name,) = _new_files(os.path.join(root, "demo"))
    with open(os.path.join(root, "demo", "new", name), "rb") as f:
        assert f.read() == MESSAGE
    assert os.listdir(os.path.join(root, "demo", "tmp")) == []


def test_unknown_user_bounces(tmp_path):
    root = str(tmp_path)
    _user(root)
    done = run_cli("deliver", "nobody-here", stdin=MESSAGE, root=root)
    assert done.returncode == EX_NOUSER and b"no such user" in done.stderr
    assert not os.path.exists(os.path.join(root, "nobody-here"))


def test_missing_folder_stays_queued_and_a_bad_name_is_a_data_error(tmp_path):
    root = str(tmp_path)
    _user(root)
    done = run_cli("deliver", "demo", "--folder", "Lists", stdin=MESSAGE, root=root)
    assert done.returncode == EX_TEMPFAIL and b"no folder 'Lists'" in done.stderr
    done = run_cli("deliver", "demo", "--folder", "a..b", stdin=MESSAGE, root=root)
    assert done.returncode == EX_DATAERR and b"invalid folder" in done.stderr
    assert _new_files(os.path.join(root, "demo")) == []


def test_write_failure_and_unreadable_database_are_temporary(tmp_path):
    root = str(tmp_path)
    _user(root)
    tmp_dir = os.path.join(root, "demo", "tmp")
    os.rmdir(tmp_dir)
    open(tmp_dir, "w").close()  # tmp/ is a file: the write fails (root ignores permissions)
    done = run_cli("deliver", "demo", stdin=MESSAGE, root=root)
    assert done.returncode == EX_TEMPFAIL and b"cannot write the message" in done.stderr
    os.unlink(tmp_dir)
    os.mkdir(tmp_dir)
    done = run_cli("deliver", "demo", "--db", str(tmp_path / "demo"), stdin=MESSAGE, root=root)
    assert done.returncode == EX_TEMPFAIL and b"cannot read the user database" in done.stderr
    assert _new_files(os.path.join(root, "demo")) == []
