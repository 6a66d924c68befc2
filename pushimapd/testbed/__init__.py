"""The test bed for client developers: faults, events, traces and the web console.

- `models`: the fault and event tables (peewee), shared by the CLI and the server,
- `faults`: what a fault is, how it is checked per command (`FaultBook`),
- `events`: changes another client would make, through the same storage code,
- `trace`: per-session protocol traces (files under ``--trace-dir`` and memory),
- `hub`: the server's live view (sessions, traces, push attempts) and the
  monitor that picks up what the CLI wrote,
- `console`: the ``--console`` web application (twisted.web, SSE),
- `cli`: ``pushimapd fault ...`` and ``pushimapd event ...``.
"""
