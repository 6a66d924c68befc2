#!/usr/bin/env python3
"""pushimapd benchmark suite: pushimapd vs Dovecot vs pymap, one table.

Each server is started privately on 127.0.0.1 over its own copy of the same
generated Maildirs, with the same password scheme, one after the other:

  1. mixed  N concurrent clients (10 and 50), each looping LOGIN / SELECT /
            UID FETCH 1:* (FLAGS) / UID FETCH headers of the newest 20 /
            UID STORE +\\Seen, +\\Deleted / EXPUNGE / APPEND / LOGOUT for a
            fixed time: commands/s, p50/p99 latency per command.
  2. big    an INBOX of 50,000 messages: first-ever open (index build), then
            after a restart cold SELECT + UID FETCH 1:* (UID FLAGS RFC822.SIZE
            INTERNALDATE), warm (again), UID SEARCH SUBJECT / FLAGGED.
  3. idle   2,000 sessions of one user in IDLE on its INBOX: server memory,
            and the time for all of them to see one delivery.
  4. push   benchmarks/push_latency.py (delivery -> PUT; delivery -> IDLE EXISTS) and
            benchmarks/webpush_latency.py (delivery -> web push POST received and decrypted).

Writes benchmarks/results/RESULTS.md, chart.png and results.json (--quick:
benchmarks/results/quick/). Installs nothing unless --install is given: a
missing requirement is reported with the command that installs it.

    sudo python3 benchmarks/run_all.py            # full run (about 15 minutes)
    sudo python3 benchmarks/run_all.py --quick    # smoke run (about 4 minutes)
    python3 benchmarks/run_all.py --workloads mixed,big --servers pushimapd,dovecot
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)

import maildata  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402
import workloads  # noqa: E402

PASSWORD = "bench-secret"
DEFAULT_VENV = os.path.join(HERE, ".venv-pymap")
ALL_SERVERS = ("pushimapd", "dovecot", "pymap")
ALL_WORKLOADS = ("mixed", "big", "idle", "push")
SCALES = {
    "full": {"duration": 20.0, "clients": (10, 50), "mailbox": 300, "big": 50_000, "idle": 2_000,
             "idle_budget": 90.0, "big_budget_pymap": 60.0, "idle_wait": 35.0,
             "push": ["--deliveries", "200", "--users", "1000", "--idle", "100"],
             "webpush": ["--deliveries", "200", "--users", "1000"]},
    "quick": {"duration": 5.0, "clients": (10, 50), "mailbox": 100, "big": 5_000, "idle": 200,
              "idle_budget": 30.0, "big_budget_pymap": 20.0, "idle_wait": 35.0,
              "push": ["--deliveries", "50", "--users", "100", "--idle", "20"],
              "webpush": ["--deliveries", "50", "--users", "100"]},
}
IDLE_MAILBOX = 20


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# -- requirements -----------------------------------------------------------------------------

def _imports(python: str, modules: str) -> bool:
    return subprocess.run([python, "-c", f"import {modules}"], capture_output=True).returncode == 0


def missing_requirements(args) -> list[tuple[str, list[str]]]:
    """(what is missing, shell commands that install it)."""
    out = []
    if "dovecot" in args.servers or "push" in args.workloads:
        if shutil.which("dovecot") is None:
            out.append(("Dovecot (Debian's dovecot-imapd)", ["apt-get install -y dovecot-imapd"]))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        out.append((f"matplotlib for {sys.executable} (the chart)",
                    [f"{sys.executable} -m pip install matplotlib"
                     + ("   # or: apt-get install -y python3-matplotlib" if sys.executable.startswith("/usr/bin")
                        else "")]))
    if not _imports(sys.executable, "twisted, argon2, peewee, treq"):
        out.append(("pushimapd's dependencies", [f"{sys.executable} -m pip install -e {REPO}"]))
    if "pymap" in args.servers and args.workloads != ["push"]:
        venv = args.pymap_venv
        pip = os.path.join(venv, "bin", "pip")
        python = os.path.join(venv, "bin", "python")
        if not os.path.exists(os.path.join(venv, "bin", "pymap")) or not _imports(python, "pymap, passlib, argon2"):
            cmds = [] if os.path.exists(python) else [f"python3 -m venv {venv}"]
            cmds.append(f"{pip} install pymap passlib argon2-cffi")
            out.append((f"pymap with passlib and argon2-cffi in the virtualenv {venv}", cmds))
    return out


def check_requirements(args) -> None:
    needs_root = "dovecot" in args.servers or "push" in args.workloads
    if needs_root and os.geteuid() != 0:
        sys.exit("run_all.py: Dovecot's master must start as root (it runs its processes as nobody): run as root")
    missing = missing_requirements(args)
    if not missing:
        return
    if not args.install:
        print("run_all.py: missing requirements; install them with:\n", file=sys.stderr)
        for what, cmds in missing:
            print(f"  # {what}", file=sys.stderr)
            for c in cmds:
                print(f"  {c}", file=sys.stderr)
        print("\nor run again with --install to have these commands run.", file=sys.stderr)
        sys.exit(2)
    for what, cmds in missing:
        for c in cmds:
            log(f"--install: {c}")
            subprocess.run(c.split("   #")[0], shell=True, check=True)
    still = missing_requirements(args)
    if still:
        sys.exit(f"run_all.py: still missing after --install: {[w for w, _ in still]}")


# -- machine and versions -----------------------------------------------------------------------

def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.+)", f.read())
            cpu = m.group(1).strip() if m else "?"
        with open("/proc/meminfo") as f:
            mem = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1)) / 1024 / 1024
    except OSError:
        mem = 0
    return f"{os.cpu_count()} CPUs ({cpu}), {mem:.1f} GiB RAM, Linux {platform.release()}"


def versions(args) -> dict:
    import twisted

    import pushimapd

    v = {"python": platform.python_version(), "twisted": twisted.__version__}
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "pushimapd"], capture_output=True, text=True)
    v["pushimapd"] = pushimapd.__version__ + (f" (git {commit.stdout.strip()}"
                                              + (", uncommitted changes in pushimapd/" if dirty.stdout.strip() else "")
                                              + ")" if commit.returncode == 0 else "")
    if shutil.which("dovecot"):
        v["dovecot"] = subprocess.run(["dovecot", "--version"], capture_output=True, text=True).stdout.strip()
    python = os.path.join(args.pymap_venv, "bin", "python")
    if "pymap" in args.servers and os.path.exists(python):
        out = subprocess.run([python, "-c", "from importlib.metadata import version as v; "
                              "print(v('pymap'), v('passlib'), v('argon2-cffi'))"], capture_output=True, text=True)
        parts = out.stdout.split()
        if len(parts) == 3:
            v["pymap"] = f"{parts[0]} (passlib {parts[1]}, argon2-cffi {parts[2]})"
    return v


# -- password hashes ------------------------------------------------------------------------------

def make_hashes(names: list[str], scheme: str) -> dict[str, str]:
    """One hash per user (own salt), the same string for every server."""
    out = {}
    for name in names:
        if scheme == "argon2id":
            out[name] = servers.hash_password(PASSWORD)
        else:
            text = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", PASSWORD],
                                  capture_output=True, text=True, check=True).stdout.strip()
            out[name] = text.split("}", 1)[1]
    return out


def check_scheme(scheme: str, sample: str) -> None:
    from pushimapd.auth import UserDirectory

    if not UserDirectory.check(sample, PASSWORD):
        sys.exit(f"run_all.py: pushimapd does not verify {scheme} hashes yet ({sample[:12]}...); "
                 "use --scheme argon2id")


# -- the run ----------------------------------------------------------------------------------------

def build_server(name: str, base: str, hashes: dict, args, scheme: str):
    mail = os.path.join(base, "mail")
    if name == "pushimapd":
        servers.hashed_users(os.path.join(mail, ".pushimapd.sqlite"), hashes)
        return servers.Pushimapd(mail)
    if name == "dovecot":
        return servers.Dovecot(os.path.join(base, "conf"), mail, hashes=hashes, bench=True,
                               limit=max(2500, args.idle + 500))
    cfg = None
    if scheme != "argon2id":
        cfg = os.path.join(base, "passlib.cfg")
        with open(cfg, "w") as f:
            f.write("[passlib]\nschemes = sha512_crypt, argon2\n")
    return servers.Pymap(mail, os.path.join(args.pymap_venv, "bin", "pymap"), hashes, passlib_cfg=cfg)


_LATENCY_ROW = re.compile(r"\|\s*(\S+): delivery -> (.+?)\s*\|\s*(\d+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|"
                          r"\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|")


def run_push(args) -> dict:
    out: dict = {"raw": ""}
    for script, extra in (("push_latency.py", ["--skip-dovecot"] if "dovecot" not in args.servers else []),
                          ("webpush_latency.py", [])):
        key = "push" if script == "push_latency.py" else "webpush"
        cmd = [sys.executable, os.path.join(HERE, script), *SCALES[args.mode][key], *extra]
        log("push: " + " ".join(cmd[1:]))
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        out["raw"] += r.stdout.strip() + "\n"
        if r.returncode != 0:
            out["error"] = f"{script}: " + (r.stderr or r.stdout)[-500:]
            log("push FAILED: " + out["error"])
            continue
        for line in r.stdout.splitlines():
            m = _LATENCY_ROW.match(line)
            if not m:
                continue
            server, what = m.group(1), m.group(2)
            if "web push" in what:
                name = "webpush"
            else:
                name = "put" if "PUT" in what else ("idle" if server == "pushimapd" else f"{server}_idle")
            out[name] = {"n": int(m.group(3)), "p50": float(m.group(4)), "p90": float(m.group(5)),
                         "p99": float(m.group(6)), "max": float(m.group(7))}
        log(f"push: {r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ''}")
    return out


def run(args) -> dict:
    scale = dict(SCALES[args.mode])
    for key in ("duration", "big", "idle"):
        if getattr(args, key) is not None:
            scale[key] = getattr(args, key)
    args.idle = scale["idle"]
    figures: dict = {"mixed": {}, "big": {}, "idle": {}, "scale": scale, "big_size": scale["big"]}
    server_workloads = [w for w in args.workloads if w != "push"]
    if server_workloads:
        work = tempfile.mkdtemp(prefix="imapbench-", dir=args.workdir)
        os.chmod(work, 0o755)  # Dovecot runs as nobody and must reach its Maildirs
        try:
            template = os.path.join(work, "template")
            users = {}
            load_users = [f"load{i:03d}" for i in range(max(scale["clients"]))]
            if "mixed" in args.workloads:
                users.update({u: scale["mailbox"] for u in load_users})
            if "big" in args.workloads:
                users["big"] = scale["big"]
            if "idle" in args.workloads:
                users["idle"] = IDLE_MAILBOX
            info = maildata.generate(template, users, seed=args.seed)
            log(f"generated {info['messages']} messages ({info['bytes'] / 1e6:.0f} MB) for {len(users)} users "
                f"in {info['seconds']:.1f}s")
            t0 = time.monotonic()
            hashes = make_hashes(sorted(users), args.scheme)
            log(f"{len(hashes)} {args.scheme} hashes in {time.monotonic() - t0:.1f}s")
            if args.scheme != "argon2id":
                check_scheme(args.scheme, next(iter(hashes.values())))
            for name in args.servers:
                run_server(name, work, template, hashes, users, load_users, scale, figures, args)
        finally:
            if args.keep:
                log(f"kept {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
    if "push" in args.workloads:
        figures["push"] = run_push(args)
    return figures


def run_server(name, work, template, hashes, users, load_users, scale, figures, args) -> None:
    base = os.path.join(work, name)
    t0 = time.monotonic()
    maildata.copy_tree(template, os.path.join(base, "mail"))
    server = build_server(name, base, hashes, args, args.scheme)
    log(f"{name}: copied the Maildirs in {time.monotonic() - t0:.1f}s; starting")
    server.start()
    try:
        if "mixed" in args.workloads:
            for n in scale["clients"]:
                log(f"{name}: mixed load, {n} clients, {scale['duration']:.0f}s")
                r = workloads.mixed_load(server, load_users[:n], PASSWORD, scale["duration"], seed=args.seed)
                figures["mixed"].setdefault(n, {})[name] = r
                log(f"{name}:   {r['cmds_per_s']:.0f} commands/s, p50 {r['all_p50_ms']:.1f} ms, "
                    f"p99 {r['all_p99_ms']:.1f} ms, {r['errors']} errors; CPU server {r['server_cpu_s']:.1f}s "
                    f"client {r['client_cpu_s']:.1f}s" + (f"; e.g. {r['error_samples'][0]}" if r['errors'] else ""))
        if "big" in args.workloads:
            timeout = scale["big_budget_pymap"] if name == "pymap" else 600.0
            log(f"{name}: big mailbox ({scale['big']} messages; command timeout {timeout:.0f}s)")
            r = workloads.big_mailbox(server, "big", PASSWORD, timeout=timeout, log=log)
            r["timeout"] = timeout
            figures["big"][name] = r
        if "idle" in args.workloads:
            server.restart()  # memory of idle sessions, not of what the workloads before loaded
            log(f"{name}: {scale['idle']} sessions in IDLE (login budget {scale['idle_budget']:.0f}s)")
            r = workloads.many_idle(server, "idle", PASSWORD, scale["idle"], os.path.join(base, "mail", "idle"),
                                    scale["idle_budget"], wait=scale["idle_wait"], log=log)
            figures["idle"][name] = r
            mem = r["memory_kib"]
            log(f"{name}:   memory RSS {mem['rss'] / 1024:.0f} MB / PSS {mem['pss'] / 1024:.0f} MB in "
                f"{mem['processes']} processes; {r['saw_delivery']} of {r['connected']} saw the delivery, "
                f"all within {r['all_saw_s']} s (p50 {r['p50_saw_s']})")
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


# -- rows ---------------------------------------------------------------------------------------------

def _at_least(ratio_to: str, factor: float):
    return lambda row: row.ratio(ratio_to) >= factor


def _at_most(ratio_to: str, factor: float):
    return lambda row: row.ratio(ratio_to) <= factor


def build_rows(figures: dict, args) -> tuple[list, list]:
    Row = report.Row
    rows, notes = [], []
    scale = figures["scale"]
    for n, per in sorted(figures["mixed"].items()):
        wl = f"1. mixed, {n} clients"
        targets = []
        if n == 10:
            targets = [("≥ 0.5× dovecot", _at_least("dovecot", 0.5)), ("≥ 5× pymap", _at_least("pymap", 5.0))]
        rows.append(Row(wl, "commands/s", {s: per[s]["cmds_per_s"] for s in per}, "higher", "{:.0f}", targets))
        rows.append(Row(wl, "connect + greeting p50 / p99 (ms; not a command)",
                        {s: (per[s]["latency_ms"]["connect"]["p50"], per[s]["latency_ms"]["connect"]["p99"])
                         for s in per}, fmt="{:.1f}"))
        rows.append(Row(wl, "all commands p50 / p99 (ms)",
                        {s: (per[s]["all_p50_ms"], per[s]["all_p99_ms"]) for s in per}, fmt="{:.1f}"))
        for cmd in workloads.MIXED_COMMANDS:
            rows.append(Row(wl, f"{cmd} p50 / p99 (ms)",
                            {s: (per[s]["latency_ms"][cmd]["p50"], per[s]["latency_ms"][cmd]["p99"]) for s in per},
                            fmt="{:.1f}"))
        rows.append(Row(wl, "failed iterations (errors)", {s: per[s]["errors"] for s in per}, fmt="{:d}",
                        ratios=False))
        rows.append(Row(wl, "server CPU % / client CPU % (of one core)",
                        {s: (100 * per[s]["server_cpu_s"] / per[s]["drained_after"],
                             100 * per[s]["client_cpu_s"] / per[s]["drained_after"]) for s in per}, fmt="{:.0f}",
                        ratios=False))
        for s in per:
            if per[s]["errors"]:
                notes.append(f"mixed {n} clients, {s}: {per[s]['errors']} failed iterations, e.g. "
                             f"`{per[s]['error_samples'][0]}`")
    big = figures["big"]
    if big:
        wl = f"2. big mailbox ({scale['big']:,} msgs)"

        def val(s, key):
            d = big[s]
            v = d.get(key)
            if v is None and d.get("error"):
                return f"DNF (>{d['timeout']:.0f} s)" if "Timeout" in d["error"] else "error"
            return v

        def line(metric, key, fmt="{:.3f}", targets=()):
            rows.append(Row(wl, metric, {s: val(s, key) for s in big}, fmt=fmt, targets=targets))

        line("first-ever SELECT (s, builds index)", "first_select")
        line("first-ever UID FETCH 1:* (s)", "first_fetch")
        line("cold SELECT (s)", "cold_select", targets=[("≤ 1× dovecot", _at_most("dovecot", 1.0))])
        line("cold UID FETCH 1:* (s)", "cold_fetch")
        line("cold SELECT + FETCH (s)", "cold_total", targets=[("≤ 3× dovecot", _at_most("dovecot", 3.0))])
        line("warm SELECT (s)", "warm_select", fmt="{:.4f}")
        line("warm UID FETCH 1:* (s)", "warm_fetch")
        line("warm SELECT + FETCH (s)", "warm_total", targets=[("≤ 2× dovecot", _at_most("dovecot", 2.0))])
        line("warm SELECT + UID FETCH 1:* (FLAGS) (s)", "warm_flags",
             targets=[("≤ 1× dovecot", _at_most("dovecot", 1.0))])
        line("UID SEARCH SUBJECT (s)", "search_header", fmt="{:.4f}",
             targets=[("≤ 1× dovecot", _at_most("dovecot", 1.0))])
        line("UID SEARCH FLAGGED (s)", "search_flag", fmt="{:.4f}",
             targets=[("≤ 1× dovecot", _at_most("dovecot", 1.0))])
        changed = {s: (big[s]["changedsince"] * 1000 if big[s].get("changedsince") is not None
                       else val(s, "changedsince")) for s in big}
        rows.append(Row(wl, "UID FETCH 1:* (FLAGS) (CHANGEDSINCE n), 10 changed (ms)", changed, fmt="{:.2f}",
                        targets=[("pushimapd ≤ 5 ms", lambda r: r.values.get("pushimapd") is not None
                                  and r.values["pushimapd"] <= 5.0)]))

        def mb(s, key):
            if key not in big[s]:
                return val(s, key)
            return big[s][key]["pss" if s == "dovecot" else "rss"] / 1024

        mem = {s: mb(s, "memory_kib") for s in big}
        rows.append(Row(wl, "server memory after the sessions closed (MB)", mem, fmt="{:.0f}"))
        grown = {s: (mb(s, "memory_kib") - mb(s, "memory_idle_kib")
                     if "memory_kib" in big[s] and "memory_idle_kib" in big[s] else val(s, "memory_kib"))
                 for s in big}
        rows.append(Row(wl, "  of which above the idle server (MB)", grown, fmt="{:.0f}",
                        targets=[("pushimapd ≤ 30 MB", lambda r: isinstance(r.values.get("pushimapd"), float)
                                  and r.values["pushimapd"] <= 30.0)]))
        for s, d in big.items():
            if d.get("error"):
                notes.append(f"big mailbox, {s}: {d['error']}")
            hits = (d.get("search_header_hits"), d.get("search_flag_hits"), d.get("fetched"))
            if hits[0] is not None:
                notes.append(f"big mailbox, {s}: SEARCH SUBJECT {hits[0]} hits, SEARCH FLAGGED {hits[1]} hits, "
                             f"cold FETCH returned {hits[2]} messages; restart took {d.get('restart_s', 0):.1f}s")
    idle = figures["idle"]
    if idle:
        requested = scale["idle"]
        wl = f"3. idle ({requested:,} sessions)"
        rows.append(Row(wl, "sessions in IDLE", {s: idle[s]["connected"] for s in idle}, "higher", "{:d}",
                        [(f"pushimapd: all {requested}", lambda r: r.values["pushimapd"] == requested)], ratios=False))
        rows.append(Row(wl, "time to log in and IDLE all (s)", {s: idle[s]["setup_s"] for s in idle}))

        def mem_mb(s):
            m = idle[s]["memory_kib"]
            return (m["pss"] if s == "dovecot" else m["rss"]) / 1024

        rows.append(Row(wl, "server memory (MB; RSS, dovecot: PSS sum)", {s: mem_mb(s) for s in idle},
                        fmt="{:.0f}", targets=[("pushimapd ≤ 150 MB", lambda r: r.values["pushimapd"] <= 150)]))
        per_session = {}
        for s in idle:
            m, b = idle[s]["memory_kib"], idle[s]["memory_before_kib"]
            key = "pss" if s == "dovecot" else "rss"
            per_session[s] = (m[key] - b[key]) / idle[s]["connected"] if idle[s]["connected"] else None
        rows.append(Row(wl, "memory per IDLE session (KiB)", per_session, fmt="{:.0f}"))

        def saw(s):
            d = idle[s]
            if d["all_saw_s"] is not None:
                return d["all_saw_s"]
            return f"{d['saw_delivery']} of {d['connected']} in {d['wait_s']:.0f} s"

        rows.append(Row(wl, "all sessions saw the delivery (s)", {s: saw(s) for s in idle}, fmt="{:.3f}",
                        targets=[("pushimapd ≤ 1 s",
                                  lambda r: isinstance(r.values["pushimapd"], float) and r.values["pushimapd"] <= 1.0)]))
        rows.append(Row(wl, "p50 session saw the delivery (s)", {s: idle[s]["p50_saw_s"] for s in idle}, fmt="{:.3f}"))
        for s, d in idle.items():
            figures_mem = d["memory_kib"]
            notes.append(f"idle, {s}: {d['connected']} of {d['requested']} sessions in {d['setup_s']:.0f}s "
                         + ("(login budget used up) " if d.get("budget_hit") else "") +
                         f"({d['setup_errors']} errors{': ' + d['error_samples'][0] if d['error_samples'] else ''}); "
                         f"memory RSS sum {figures_mem['rss'] / 1024:.0f} MB, PSS sum {figures_mem['pss'] / 1024:.0f} MB, "
                         f"{figures_mem['processes']} processes")
    push = figures.get("push")
    if push:
        wl = "4. push"
        if "put" in push:
            rows.append(Row(wl, "delivery → PUT p50 / p99 (ms)", {"pushimapd": (push["put"]["p50"], push["put"]["p99"])},
                            fmt="{:.1f}", targets=[("p99 ≤ 25 ms", lambda r: r.values["pushimapd"][1] <= 25.0)]))
        if "webpush" in push:
            rows.append(Row(wl, "delivery → web push POST decrypted p50 / p99 (ms)",
                            {"pushimapd": (push["webpush"]["p50"], push["webpush"]["p99"])}, fmt="{:.1f}",
                            targets=[("p99 ≤ 15 ms", lambda r: r.values["pushimapd"][1] <= 15.0)]))
        if "idle" in push:
            vals = {"pushimapd": (push["idle"]["p50"], push["idle"]["p99"])}
            if "dovecot_idle" in push:
                vals["dovecot"] = (push["dovecot_idle"]["p50"], push["dovecot_idle"]["p99"])
            rows.append(Row(wl, "delivery → IDLE EXISTS p50 / p99 (ms)", vals, fmt="{:.1f}"))
        if push.get("error"):
            notes.append(f"push benchmark failed: {push['error']}")
        notes.append("push: " + " ".join(SCALES[args.mode]["push"]) + " (push_latency.py; pymap is not part of it); "
                     "web push: " + " ".join(SCALES[args.mode]["webpush"]) + " (webpush_latency.py)")
    return rows, notes


def standard_notes(args, scale) -> list[str]:
    notes = [
        f"Password scheme: {args.scheme.upper()} for every server, one hash per user (own salt), the same string "
        "in each server's user store: pushimapd's sqlite (argon2-cffi verifies), Dovecot's passwd-file "
        "(`{ARGON2ID}`, libsodium), pymap's pymap-etc-shadow (passlib + argon2-cffi). argon2-cffi's default "
        "parameters (t=3, m=64 MiB, p=4), as `pushimapd user add` writes them." if args.scheme == "argon2id" else
        f"Password scheme: {args.scheme.upper()} for every server (pymap through a passlib CryptContext file).",
        "Credential caches: pushimapd caches verified credentials (auth-cache-ttl 600 s). Dovecot has "
        "`auth_cache_size = 10M`, `auth_cache_ttl = 600 s`, but its cache keeps passdb *lookups*, not "
        "verifications (the hash is verified on every login, in its single auth process), and passwd-file "
        "lookups are not cached at all; pymap has no cache. So every Dovecot and pymap LOGIN pays a full argon2 "
        "verification, which bounds their mixed-load throughput and their idle-session login rate.",
        "Dovecot config: Debian defaults plus its own base/state dirs, plaintext auth on loopback, the auth "
        "cache, and limits raised so that 2,000 sessions of one user fit (`default_process_limit`, "
        "`service imap { process_limit }`, `mail_max_userip_connections`); one imap process per session "
        "(no hibernation); `mailbox_idle_check_interval = 30 secs` (the default). "
        "fs.inotify.max_user_instances on this host: " + _read("/proc/sys/fs/inotify/max_user_instances") +
        " (Dovecot's imap processes all run as nobody; beyond that many, IDLE falls back to polling).",
        "pymap: the maildir backend, `pymap --host 127.0.0.1 --no-tls maildir DIR`, one asyncio process; "
        f"its big-mailbox commands get a {scale['big_budget_pymap']:.0f} s timeout (DNF beyond: "
        "its UID FETCH 1:* time grows quadratically, ~1 s for 500 messages, ~11 s for 2,000).",
        f"Data: deterministic generator (seed {args.seed}), 2–8 KB messages with From/To/Subject/Date/Message-ID, "
        "LF line ends, no S=/W= in file names, 2% unread in new/, ~80% \\Seen, ~10% \\Flagged; "
        f"{scale['mailbox']} messages per mixed-load user, {IDLE_MAILBOX} for the idle user; each server gets "
        "its own copy (cp -a). Page cache not dropped: 'cold' means the first SELECT after a server restart, "
        "after a first-ever open built the server's index (uidlist/dovecot.index).",
        f"Mixed load: {scale['duration']:.0f} s per client count, closed loop (each client sends its next command "
        "when the last one completed), one user per client; the load generator is one asyncio process on the same "
        "2 cores (its CPU is in the 'client CPU %' row).",
        f"Idle: {scale['idle']} sessions of user 'idle' on INBOX, logged in 50 at a time within a "
        f"{scale['idle_budget']:.0f} s budget; memory measured 2 s after the last IDLE; one message delivered "
        "MTA-style (tmp/ then rename into new/); the delivery timeout is "
        f"{scale['idle_wait']:.0f} s. Memory per session = (memory with the sessions − memory after restart) ÷ sessions.",
        "Other work on the machine during the run (other engineers' test suites) adds noise; see the load average.",
    ]
    return notes


def _mem(server: str, kib: dict) -> float:
    """The memory figure compared: PSS summed for Dovecot's processes, RSS for one process."""
    return kib["pss" if server == "dovecot" else "rss"]


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short smoke run (small data, short durations)")
    parser.add_argument("--workloads", default=",".join(ALL_WORKLOADS),
                        help="comma-separated subset of " + ",".join(ALL_WORKLOADS))
    parser.add_argument("--servers", default=",".join(ALL_SERVERS), help="comma-separated subset of " + ",".join(ALL_SERVERS))
    parser.add_argument("--duration", type=float, help="seconds per mixed-load run (default: 20, quick: 5)")
    parser.add_argument("--big", type=int, help="messages in the big INBOX (default: 50000, quick: 5000)")
    parser.add_argument("--idle", type=int, help="IDLE sessions (default: 2000, quick: 200)")
    parser.add_argument("--scheme", choices=("argon2id", "sha512-crypt"), default="argon2id",
                        help="password scheme used by every server (default: argon2id)")
    parser.add_argument("--pymap-venv", default=os.environ.get("PYMAP_VENV", DEFAULT_VENV),
                        help=f"virtualenv holding pymap, passlib, argon2-cffi (default: {DEFAULT_VENV})")
    parser.add_argument("--install", action="store_true", help="run the install commands for what is missing")
    parser.add_argument("--out", help="directory for RESULTS.md, chart.png, results.json "
                                      "(default: benchmarks/results, --quick: benchmarks/results/quick)")
    parser.add_argument("--workdir", default=None, help="where the temporary Maildirs go (default: $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary Maildirs and logs")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--from-json", metavar="RESULTS_JSON",
                        help="run nothing: write RESULTS.md and chart.png again from a results.json")
    args = parser.parse_args()
    args.mode = "quick" if args.quick else "full"
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    for w in args.workloads:
        if w not in ALL_WORKLOADS:
            parser.error(f"unknown workload {w}")
    for s in args.servers:
        if s not in ALL_SERVERS:
            parser.error(f"unknown server {s}")
    out_dir = args.out or os.path.join(HERE, "results", *(["quick"] if args.quick else []))
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        figures = saved["figures"]
        figures["mixed"] = {int(n): per for n, per in figures["mixed"].items()}
        args.mode = saved["meta"]["mode"]
        args.scheme = saved["meta"]["scheme"].lower()
        args.seed = saved["meta"].get("seed", args.seed)
        write_outputs(out_dir, saved["meta"], saved["versions"], figures, args)
        return 0
    check_requirements(args)

    started = time.monotonic()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "mode": args.mode, "machine": machine(), "scheme": args.scheme.upper(), "seed": args.seed}
    v = versions(args)
    meta["versions"] = ", ".join(f"{k} {val}" for k, val in v.items())
    log(f"{meta['machine']}; {meta['versions']}")
    figures = run(args)
    meta["elapsed_min"] = (time.monotonic() - started) / 60
    meta["load_before"] = load_before
    meta["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    write_outputs(out_dir, meta, v, figures, args)
    return 0


def write_outputs(out_dir: str, meta: dict, v: dict, figures: dict, args) -> None:
    rows, notes = build_rows(figures, args)
    notes = standard_notes(args, figures["scale"]) + notes
    os.makedirs(out_dir, exist_ok=True)
    md = report.markdown(rows, meta, notes)
    with open(os.path.join(out_dir, "RESULTS.md"), "w") as f:
        f.write(md)
    chart_figures = {
        "mixed": figures["mixed"], "big": figures["big"], "big_size": figures["scale"]["big"], "push": figures.get("push", {}),
        "idle": {s: {**d, "memory_mb": _mem(s, d["memory_kib"]) / 1024,
                     "per_session_kib": ((_mem(s, d["memory_kib"]) - _mem(s, d["memory_before_kib"])) / d["connected"]
                                         if d["connected"] else None)}
                 for s, d in figures["idle"].items()},
    }
    try:
        report.chart(os.path.join(out_dir, "chart.png"), chart_figures,
                     f"pushimapd vs Dovecot vs pymap — {meta['date']}, {args.mode} run, {meta['machine']}")
    except Exception as e:  # the table matters more than the picture
        log(f"chart failed: {type(e).__name__}: {e}")
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"meta": meta, "versions": v, "figures": figures}, f, indent=1, default=str)
    print(md)
    log(f"wrote {out_dir}/RESULTS.md, chart.png, results.json (run took {meta['elapsed_min']:.1f} min)")


if __name__ == "__main__":
    sys.exit(main())
