"""Turn the figures of run_all.py into rows, a Markdown report and a PNG chart."""

from __future__ import annotations

import os

SERVERS = ("pushimapd", "dovecot", "pymap")


class Row:
    """One metric for the three servers.

    values: server -> number, (p50, p99) pair, or str ("DNF ...") / None (not run).
    better: "higher" or "lower" (how ratios are read); ratios are pushimapd / other.
    target: (text, server the ratio is taken to or None for an absolute target, predicate).
    """

    def __init__(self, workload, metric, values, better="lower", fmt="{:.1f}", targets=(), note="", ratios=True):
        self.ratios = ratios
        self.workload = workload
        self.metric = metric
        self.values = values
        self.better = better
        self.fmt = fmt
        self.targets = list(targets)
        self.note = note

    def ratio(self, other: str):
        if not self.ratios:
            return None
        a, b = self.values.get("pushimapd"), self.values.get(other)
        if isinstance(a, tuple) and isinstance(b, tuple):
            return tuple(_div(x, y) for x, y in zip(a, b))
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return _div(a, b)
        return None

    def met(self):
        """None when there is no target; else True/False/None-if-unmeasurable."""
        if not self.targets:
            return None
        results = []
        for _text, check in self.targets:
            try:
                results.append(check(self))
            except (TypeError, ValueError):
                results.append(None)
        if any(r is False for r in results):
            return False
        if any(r is None for r in results):
            return None
        return True

    def cell(self, server: str) -> str:
        v = self.values.get(server)
        if v is None:
            return "—"
        if isinstance(v, str):
            return v
        if isinstance(v, tuple):
            return " / ".join("—" if x is None else self.fmt.format(x) for x in v)
        return self.fmt.format(v)

    def ratio_cell(self, other: str) -> str:
        r = self.ratio(other)
        if r is None:
            return "—"
        if isinstance(r, tuple):
            return " / ".join("—" if x is None else _fmt_ratio(x) for x in r)
        return _fmt_ratio(r)


def _div(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def _fmt_ratio(x: float) -> str:
    if x >= 100:
        return f"{x:.0f}×"
    if x >= 10:
        return f"{x:.1f}×"
    return f"{x:.2f}×"


def markdown(rows: list[Row], meta: dict, notes: list[str]) -> str:
    out = ["# pushimapd benchmark results", ""]
    out.append(f"Run: {meta['date']} ({meta['mode']} mode, {meta['elapsed_min']:.1f} min).  ")
    out.append(f"Machine: {meta['machine']}.  ")
    out.append(f"Versions: {meta['versions']}.  ")
    out.append(f"Password scheme (all servers): {meta['scheme']}.  ")
    out.append(f"Load average before/after the run: {meta['load_before']} / {meta['load_after']}.")
    out.append("")
    out.append("Ratios are pushimapd ÷ the other server: above 1× is better for throughput "
               "(commands/s), below 1× is better for times, latencies and memory. "
               "Latency cells show p50 / p99 in ms. Chart: [chart.png](chart.png).")
    out.append("")
    out.append("| workload | metric | pushimapd | dovecot | pymap | ratio to dovecot | ratio to pymap | target | met? |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for r in rows:
        target = "; ".join(t for t, _ in r.targets) if r.targets else ""
        met = r.met()
        met_text = "" if not r.targets else ("yes" if met else ("**NO**" if met is False else "n/a"))
        out.append(f"| {r.workload} | {r.metric} | {r.cell('pushimapd')} | {r.cell('dovecot')} | {r.cell('pymap')} | "
                   f"{r.ratio_cell('dovecot')} | {r.ratio_cell('pymap')} | {target} | {met_text} |")
    out.append("")
    missed = [r for r in rows if r.met() is False]
    unknown = [r for r in rows if r.targets and r.met() is None]
    out.append("## Targets")
    out.append("")
    if missed:
        out.append("Missed: " + "; ".join(f"{r.workload} — {r.metric}" for r in missed) + ".")
    else:
        out.append("Every target that could be measured was met.")
    if unknown:
        out.append("")
        out.append("Not measurable in this run: " + "; ".join(f"{r.workload} — {r.metric}" for r in unknown) + ".")
    out.append("")
    out.append("## Notes")
    out.append("")
    for n in notes:
        out.append(f"- {n}")
    out.append("")
    return "\n".join(out)


def chart(path: str, figures: dict, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"pushimapd": "#2b7bba", "dovecot": "#e08a1e", "pymap": "#6aa84f"}
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    fig.suptitle(title, fontsize=11, y=0.995)

    def bars(ax, groups, series, ylabel, log=False, fmt="{:.0f}"):
        import numpy as np

        x = np.arange(len(groups))
        width = 0.8 / max(1, len(SERVERS))
        positive = [v for s in SERVERS for v in series.get(s, []) if isinstance(v, (int, float)) and v > 0]
        floor = (min(positive) * 0.6 if positive else 1) if log else 0
        for i, server in enumerate(SERVERS):
            vals = series.get(server, [None] * len(groups))
            heights = [v if isinstance(v, (int, float)) and v > 0 else 0 for v in vals]
            pos = x + (i - (len(SERVERS) - 1) / 2) * width
            shown = [(q, h) for q, h in zip(pos, heights) if h]
            ax.bar([q for q, _ in shown], [h for _, h in shown], width, label=server, color=colors[server])
            for p, v, h in zip(pos, vals, heights):
                text = v if isinstance(v, str) else ("n/a" if v is None else fmt.format(v))
                ax.annotate(text, (p, h if h else floor), ha="center", va="bottom", fontsize=7,
                            rotation=90 if len(text) > 4 else 0)
        if not positive:
            ax.text(0.5, 0.5, "not run", transform=ax.transAxes, ha="center", color="gray")
        ax.set_xticks(x)
        ax.set_xticklabels(groups, fontsize=8)
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
            if positive:
                ax.set_ylim(bottom=floor * 0.7)
        ax.grid(axis="y", alpha=0.3)

    m = figures.get("mixed", {})
    groups = [f"{n} clients" for n in sorted(m)]
    bars(axes[0][0], groups, {s: [m[n].get(s, {}).get("cmds_per_s") for n in sorted(m)] for s in SERVERS},
         "commands / s")
    axes[0][0].set_title("1. Mixed load: throughput (higher is better)")
    from matplotlib.patches import Patch

    fig.legend(handles=[Patch(color=colors[s], label=s) for s in SERVERS], loc="upper center", bbox_to_anchor=(0.5, 0.965), fontsize=9, ncol=3)

    if m:
        n0 = min(m)
        cmds = ["LOGIN", "SELECT", "FETCH flags", "FETCH headers", "STORE", "EXPUNGE", "APPEND"]
        bars(axes[0][1], cmds, {s: [(m[n0].get(s) or {}).get("latency_ms", {}).get(c, {}).get("p99") for c in cmds]
                                for s in SERVERS}, "ms (log)", log=True, fmt="{:.1f}")
        axes[0][1].set_title(f"1. Mixed load, {n0} clients: p99 latency (lower is better)")
        axes[0][1].tick_params(axis="x", labelrotation=20)

    b = figures.get("big", {})
    keys = [("cold_total", "cold SELECT+FETCH"), ("warm_total", "warm SELECT+FETCH"),
            ("search_header", "SEARCH header"), ("search_flag", "SEARCH flag")]

    def big_value(server, key):
        d = b.get(server)
        if d is None:
            return None
        v = d.get(key)
        if v is None and d.get("error"):
            return "DNF"
        return v


    bars(axes[0][2], [k[1] for k in keys], {s: [big_value(s, k) for k, _ in keys] for s in SERVERS},
         "seconds (log)", log=True, fmt="{:.3f}")
    axes[0][2].set_title(f"2. Big mailbox ({figures.get('big_size', '?')} messages; lower is better)")
    axes[0][2].tick_params(axis="x", labelrotation=15)

    i = figures.get("idle", {})
    bars(axes[1][0], ["server memory (MB)", "per IDLE session (KiB)"],
         {s: [i[s]["memory_mb"], i[s]["per_session_kib"]] if s in i else [None, None] for s in SERVERS},
         "MB / KiB (log)", log=True, fmt="{:.0f}")
    bars(axes[1][1], ["all saw delivery (s)", "p50 saw (s)"],
         {s: [i.get(s, {}).get("all_saw_s") or ("not all" if s in i else None), i.get(s, {}).get("p50_saw_s")]
          for s in SERVERS}, "seconds (log)", log=True, fmt="{:.3f}")
    sessions = ", ".join(f"{s}: {i[s]['connected']}" for s in SERVERS if s in i)
    axes[1][0].set_title(f"3. Idle sessions: server memory ({sessions})", fontsize=9)
    axes[1][1].set_title("3. Idle sessions: delivery seen by all / by half", fontsize=9)

    p = figures.get("push", {})
    groups = ["PUT p50", "PUT p99", "WebPush p50", "WebPush p99", "IDLE p50", "IDLE p99"]
    series = {s: [None] * 6 for s in SERVERS}
    if p:
        series["pushimapd"] = [p.get(k, {}).get(q) for k in ("put", "webpush", "idle") for q in ("p50", "p99")]
        series["dovecot"] = [None] * 4 + [p.get("dovecot_idle", {}).get("p50"), p.get("dovecot_idle", {}).get("p99")]
    bars(axes[1][2], groups, series, "ms", fmt="{:.1f}")
    axes[1][2].axhline(25, color="red", lw=0.8, ls="--")
    axes[1][2].axhline(15, color="orange", lw=0.8, ls="--")
    axes[1][2].set_title("4. Push: delivery → PUT (p99 ≤ 25 ms) / → web push (≤ 15 ms) / → IDLE", fontsize=9)

    fig.tight_layout(rect=(0, 0, 1, 0.93))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
