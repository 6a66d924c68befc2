"""The workloads of run_all.py, each against one running server.

Every function takes a server object from servers.py (port, restart(),
memory_kib(), cpu_seconds()) and returns a plain dict of figures; times are
seconds unless a key says otherwise.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import statistics
import time

from maildata import SEARCH_WORD, Generator
from rawimap import Connection, IMAPError, exists_of

_UID = re.compile(rb"UID (\d+)")
NET_ERRORS = (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, IMAPError, asyncio.LimitOverrunError)


def pct(values: list[float], p: float) -> float | None:
    """Percentile (inclusive method); None for no data."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


# -- 1. mixed client load -------------------------------------------------------------------

MIXED_COMMANDS = ("LOGIN", "SELECT", "FETCH flags", "FETCH headers", "STORE", "EXPUNGE", "APPEND", "LOGOUT")
HEADERS = b"BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID)]"


async def _mixed_client(port: int, user: str, password: str, deadline: float, rng: random.Random,
                        appends: list[bytes], lat: dict, errors: list, timeout: float) -> int:
    """Loop like a mail client until `deadline`; returns the commands completed
    before the deadline (latencies are kept for every command)."""
    done = 0
    while time.perf_counter() < deadline:
        conn = None
        try:
            t0 = time.perf_counter()
            conn = await Connection.open(port, timeout)
            lat["connect"].append(time.perf_counter() - t0)

            async def run(name: str, text: bytes, literal: bytes | None = None):
                nonlocal done
                r = await conn.command(text, literal, timeout)
                if not r.ok:
                    raise IMAPError(f"{name}: {r.status[:160]!r}")
                lat[name].append(r.elapsed)
                if time.perf_counter() <= deadline:
                    done += 1
                return r

            await run("LOGIN", b'LOGIN "%s" "%s"' % (user.encode(), password.encode()))
            await run("SELECT", b"SELECT INBOX")
            r = await run("FETCH flags", b"UID FETCH 1:* (FLAGS)")  # a client's flag resync
            uids = [int(u) for u in _UID.findall(b"\n".join(r.untagged))]
            if uids:
                newest = uids[-20] if len(uids) >= 20 else uids[0]
                await run("FETCH headers", b"UID FETCH %d:* (UID FLAGS RFC822.SIZE %s)" % (newest, HEADERS))
                await run("STORE", b"UID STORE %d +FLAGS (\\Seen)" % rng.choice(uids))
                await run("STORE", b"UID STORE %d +FLAGS (\\Deleted)" % uids[0])
                await run("EXPUNGE", b"EXPUNGE")
            await run("APPEND", b"APPEND INBOX (\\Seen)", appends[rng.randrange(len(appends))])
            r = await conn.command(b"LOGOUT", timeout=timeout)
            lat["LOGOUT"].append(r.elapsed)
            if time.perf_counter() <= deadline:
                done += 1
        except NET_ERRORS as e:
            errors.append(f"{user}: {type(e).__name__}: {e}"[:300])
            await asyncio.sleep(0.05)
        finally:
            if conn is not None:
                conn.close()
    return done


async def _mixed(port, users, password, duration, seed, timeout):
    gen = Generator(seed)
    rng = random.Random(seed)
    appends = [gen.append_message(rng, 900_000 + i, "bench") for i in range(64)]
    lat = {name: [] for name in ("connect",) + MIXED_COMMANDS}
    errors: list = []
    t0 = time.perf_counter()
    deadline = t0 + duration
    counts = await asyncio.gather(*[
        _mixed_client(port, u, password, deadline, random.Random(seed + i), appends, lat, errors, timeout)
        for i, u in enumerate(users)])
    return sum(counts), duration, time.perf_counter() - t0, lat, errors


def mixed_load(server, users: list[str], password: str, duration: float, seed: int = 7,
               timeout: float = 60.0) -> dict:
    cpu_server0, cpu_client0 = server.cpu_seconds(), time.process_time()
    commands, elapsed, drained, lat, errors = asyncio.run(_mixed(server.port, users, password, duration, seed, timeout))
    cpu_server, cpu_client = server.cpu_seconds() - cpu_server0, time.process_time() - cpu_client0
    # (CPU is counted until the last in-flight iteration finished: divide by `drained_after`)
    every = [x for name in MIXED_COMMANDS for x in lat[name]]
    return {
        "clients": len(users), "duration": elapsed, "drained_after": drained, "commands": commands,
        "cmds_per_s": commands / elapsed if elapsed else 0.0,
        "latency_ms": {name: {"n": len(v), "p50": _ms(pct(v, 50)), "p99": _ms(pct(v, 99))}
                       for name, v in lat.items()},
        "all_p50_ms": _ms(pct(every, 50)), "all_p99_ms": _ms(pct(every, 99)),
        "errors": len(errors), "error_samples": errors[:5],
        "server_cpu_s": cpu_server, "client_cpu_s": cpu_client,
    }


def _ms(value):
    return None if value is None else value * 1000.0


# -- 2. big mailbox -------------------------------------------------------------------------

BIG_FETCH = b"UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)"
FLAGS_FETCH = b"UID FETCH 1:* (FLAGS)"
CHANGED = 10  # messages changed before UID FETCH 1:* (FLAGS) (CHANGEDSINCE n)
SEARCH_HEADER = b'UID SEARCH SUBJECT "%s"' % SEARCH_WORD.encode()
SEARCH_FLAG = b"UID SEARCH FLAGGED"


async def _select_fetch(port, user, password, timeout) -> dict:
    conn = await Connection.open(port, timeout)
    try:
        await conn.login(user, password, timeout)
        s = await conn.command(b"SELECT INBOX", timeout=timeout)
        if not s.ok:
            raise IMAPError(f"SELECT: {s.status[:160]!r}")
        f = await conn.command(BIG_FETCH, timeout=timeout)
        if not f.ok:
            raise IMAPError(f"FETCH: {f.status[:160]!r}")
        return {"select": s.elapsed, "fetch": f.elapsed, "exists": exists_of(s.untagged),
                "fetched": sum(1 for line in f.untagged if b" FETCH " in line)}
    finally:
        await conn.logout()


async def _select_flags(port, user, password, timeout) -> float:
    """SELECT + UID FETCH 1:* (FLAGS): what a client does to refresh flags without CONDSTORE."""
    conn = await Connection.open(port, timeout)
    try:
        await conn.login(user, password, timeout)
        s = await conn.command(b"SELECT INBOX", timeout=timeout)
        f = await conn.command(FLAGS_FETCH, timeout=timeout)
        if not (s.ok and f.ok):
            raise IMAPError(f"SELECT/FETCH FLAGS: {s.status[:80]!r} {f.status[:80]!r}")
        return s.elapsed + f.elapsed
    finally:
        await conn.logout()


async def _changedsince(port, user, password, repeat, timeout) -> dict:
    """What a phone woken by a push asks: the flags of what changed since its
    HIGHESTMODSEQ, after CHANGED messages changed (CONDSTORE)."""
    conn = await Connection.open(port, timeout)
    try:
        await conn.login(user, password, timeout)
        await conn.command(b"ENABLE CONDSTORE", timeout=timeout)
        s = await conn.command(b"SELECT INBOX (CONDSTORE)", timeout=timeout)
        m = re.search(rb"HIGHESTMODSEQ (\d+)", b"".join(s.untagged))
        if not s.ok or m is None:
            raise IMAPError(f"SELECT (CONDSTORE): {s.status[:160]!r}")
        exists = exists_of(s.untagged)
        step = max(1, exists // CHANGED)
        for seq in range(1, exists + 1, step)[:CHANGED]:
            await conn.command(b"STORE %d +FLAGS.SILENT ($Bench)" % seq, timeout=timeout)
        times, changed = [], 0
        for _ in range(repeat):
            r = await conn.command(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %s)" % m.group(1), timeout=timeout)
            if not r.ok:
                raise IMAPError(f"CHANGEDSINCE: {r.status[:160]!r}")
            times.append(r.elapsed)
            changed = sum(1 for line in r.untagged if b" FETCH " in line)
        return {"changedsince": statistics.median(times), "changedsince_hits": changed}
    finally:
        await conn.logout()


async def _searches(port, user, password, repeat, timeout) -> dict:
    conn = await Connection.open(port, timeout)
    out = {}
    try:
        await conn.login(user, password, timeout)
        await conn.command(b"SELECT INBOX", timeout=timeout)
        for key, text in (("search_header", SEARCH_HEADER), ("search_flag", SEARCH_FLAG)):
            times, hits = [], 0
            for _ in range(repeat):
                r = await conn.command(text, timeout=timeout)
                if not r.ok:
                    raise IMAPError(f"{text!r}: {r.status[:160]!r}")
                times.append(r.elapsed)
                hits = sum(len(line.split()) - 2 for line in r.untagged if line.startswith(b"* SEARCH"))
            out[key] = statistics.median(times)
            out[key + "_hits"] = hits
    finally:
        await conn.logout()
    return out


def big_mailbox(server, user: str, password: str, repeat: int = 3, timeout: float = 600.0,
                log=print) -> dict:
    """First-ever open (index build; not 'cold'), restart, cold SELECT+FETCH,
    warm SELECT+FETCH (median of `repeat` sessions), then the searches."""
    out: dict = {}
    stage = "first-ever SELECT + FETCH"
    try:
        first = asyncio.run(_select_fetch(server.port, user, password, timeout))
        out.update(first_select=first["select"], first_fetch=first["fetch"], exists=first["exists"])
        log(f"    first-ever open: SELECT {first['select']:.2f}s FETCH {first['fetch']:.2f}s "
            f"({first['exists']} messages, {first['fetched']} fetched)")
        stage = "restart"
        t0 = time.perf_counter()
        server.restart()
        out["restart_s"] = time.perf_counter() - t0
        out["memory_idle_kib"] = server.memory_kib()  # a server that has served nothing yet
        stage = "cold SELECT + FETCH"
        cold = asyncio.run(_select_fetch(server.port, user, password, timeout))
        out.update(cold_select=cold["select"], cold_fetch=cold["fetch"], fetched=cold["fetched"])
        log(f"    cold: SELECT {cold['select']:.2f}s FETCH {cold['fetch']:.2f}s")
        stage = "warm SELECT + FETCH"
        warm = [asyncio.run(_select_fetch(server.port, user, password, timeout)) for _ in range(repeat)]
        out["warm_select"] = statistics.median(w["select"] for w in warm)
        out["warm_fetch"] = statistics.median(w["fetch"] for w in warm)
        log(f"    warm: SELECT {out['warm_select']:.3f}s FETCH {out['warm_fetch']:.3f}s")
        stage = "warm SELECT + FETCH FLAGS"
        out["warm_flags"] = statistics.median(
            asyncio.run(_select_flags(server.port, user, password, timeout)) for _ in range(repeat))
        log(f"    warm SELECT + UID FETCH 1:* (FLAGS): {out['warm_flags']:.3f}s")
        stage = "UID SEARCH"
        out.update(asyncio.run(_searches(server.port, user, password, repeat, timeout)))
        log(f"    search: header {out['search_header']:.3f}s ({out['search_header_hits']} hits) "
            f"flag {out['search_flag']:.3f}s ({out['search_flag_hits']} hits)")
        out["memory_kib"] = server.memory_kib()
        stage = "CHANGEDSINCE"
        out.update(asyncio.run(_changedsince(server.port, user, password, repeat, timeout)))
        log(f"    UID FETCH 1:* (FLAGS) (CHANGEDSINCE n), {out['changedsince_hits']} changed: "
            f"{out['changedsince'] * 1000:.1f} ms")
    except NET_ERRORS as e:
        out["error"] = f"{stage}: {type(e).__name__}" + (f": {e}"[:300] if str(e) else "")
        out["error_stage"] = stage
        log(f"    ERROR {out['error']}")
    out["cold_total"] = _sum(out.get("cold_select"), out.get("cold_fetch"))
    out["warm_total"] = _sum(out.get("warm_select"), out.get("warm_fetch"))
    return out


def _sum(a, b):
    return None if a is None or b is None else a + b


# -- 3. many idle clients -------------------------------------------------------------------

async def _idle(server, user, password, count, deliver_dir, setup_budget, wait, concurrency, log):
    conns: list[Connection] = []
    errors: list[str] = []
    memory_before = server.memory_kib()
    sem = asyncio.Semaphore(concurrency)
    t_start = time.perf_counter()

    async def one():
        async with sem:
            conn = None
            try:
                conn = await Connection.open(server.port, 60)
                await conn.login(user, password, 120)
                r = await conn.command(b"SELECT INBOX", timeout=120)
                if not r.ok:
                    raise IMAPError(f"SELECT: {r.status[:160]!r}")
                await conn.idle(60)
                conns.append(conn)
                conn = None
            except NET_ERRORS as e:
                errors.append(f"{type(e).__name__}: {e}"[:200])
            finally:
                if conn is not None:  # failed, or cancelled at the end of the budget
                    conn.close()

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    _, pending = await asyncio.wait(tasks, timeout=setup_budget)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    setup = time.perf_counter() - t_start
    log(f"    {len(conns)} of {count} sessions in IDLE after {setup:.1f}s ({len(errors)} errors"
        + (f"; login budget of {setup_budget:.0f}s used up" if pending else "") + ")")
    await asyncio.sleep(2.0)
    memory = server.memory_kib()
    seen: list[float] = []

    async def watch(conn, t0_holder):
        try:
            await conn.wait_for(b" EXISTS")
        except NET_ERRORS:
            return
        seen.append(time.perf_counter() - t0_holder[0])

    t0 = [0.0]
    watchers = [asyncio.create_task(watch(c, t0)) for c in conns]
    await asyncio.sleep(0.2)
    name = f"{int(time.time())}.M1P{os.getpid()}.benchidle"
    with open(os.path.join(deliver_dir, "tmp", name), "wb") as f:
        f.write(b"From: a@example.org\nTo: idle@example.com\nSubject: wake up\n\nhello\n")
    t0[0] = time.perf_counter()
    os.rename(os.path.join(deliver_dir, "tmp", name), os.path.join(deliver_dir, "new", name))
    _, pending = await asyncio.wait(watchers, timeout=wait)
    for task in pending:
        task.cancel()
    for conn in conns:
        try:
            conn.writer.write(b"DONE\r\nZ LOGOUT\r\n")
        except Exception:
            pass
    await asyncio.sleep(0.5)
    for conn in conns:
        conn.close()
    await asyncio.sleep(0.5)
    return {
        "requested": count, "connected": len(conns), "setup_s": setup, "budget_hit": bool(pending), "setup_errors": len(errors),
        "error_samples": errors[:3], "memory_kib": memory, "memory_before_kib": memory_before,
        "saw_delivery": len(seen),
        "all_saw_s": max(seen) if len(seen) == len(conns) and seen else None,
        "p50_saw_s": pct(sorted(seen), 50), "max_saw_s": max(seen) if seen else None, "wait_s": wait,
    }


def many_idle(server, user: str, password: str, count: int, deliver_dir: str, setup_budget: float,
              wait: float = 60.0, concurrency: int = 50, log=print) -> dict:
    return asyncio.run(_idle(server, user, password, count, deliver_dir, setup_budget, wait, concurrency, log))
