"""docs/benchmarks.md and the console table, from one run's figures."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.codec import Codec
from bench.handshakes import IN_FLIGHT
from bench.loadgen import RECEIVER
from bench.machine import Load, describe, versions
from bench.slow_consumer import NORMAL, SlowConsumer
from bench.stats import fmt, percentile, ratio
from bench.suite import SERVERS, Run
from bench.tui import WINDOW_SECONDS, Tui

SEND_COST_MAX = 1.15
"""Our send loop's cost per client, at most this many times the floor's (issue 14)."""
SEND_COST_SIZES = (1000, 5000, 10000)
"""The N the send-cost target is judged at (at 100 a loop is too short to time steadily)."""
SLOWEST_SHARE = 0.05
"""The share of broadcasts, slowest to their last client, that the tail table takes apart."""

GROWTH_TOLERANCE_KIB = 64
"""RSS growth up to 16 pages counts as none: the allocator's noise, not a leak."""

SERVER_NAMES = {
    "ours": "ours (calc_server)",
    "floor": "floor (raw sockets)",
    "websockets": "python-websockets broadcast()",
    "naive": "naive aiohttp (json + send_json loop)",
}


@dataclass(frozen=True, slots=True)
class Results:
    """Everything one ``python -m bench`` measured."""

    command: str
    when: str
    runs: list[Run]
    codec: Codec
    slow_consumer: SlowConsumer
    tui: Tui | None
    load: Load
    seconds: float

    def run(self, server: str, clients: int) -> Run | None:
        """The run of ``server`` at ``clients``, if measured."""
        return next((r for r in self.runs if r.server == server and r.clients == clients), None)

    @property
    def sizes(self) -> list[int]:
        """Every N measured, ascending."""
        return sorted({r.clients for r in self.runs})


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _met(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**not met**")


def targets(res: Results) -> list[tuple[str, str, str, bool | None]]:
    """(figure, target, measured, met) for every target of the issue."""
    out: list[tuple[str, str, str, bool | None]] = []

    def ours(n: int) -> Run | None:
        return res.run("ours", n)

    for n, p50_max, p99_max in ((1000, None, 20.0), (5000, 50.0, 75.0), (10000, None, 150.0)):
        run = ours(n)
        target = (
            f"p99 <= {p99_max:g} ms"
            if p50_max is None
            else (f"p50 <= {p50_max:g} ms, p99 <= {p99_max:g} ms")
        )
        if run is None:
            out.append((f"fan-out, last client, {n:,} clients", target, "—", None))
            continue
        p50, p99 = run.fanout.last(50), run.fanout.last(99)
        ok = p99 <= p99_max and (p50_max is None or p50 <= p50_max)
        out.append(
            (
                f"fan-out, last client, {n:,} clients",
                target,
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
                ok,
            )
        )
    sends = []
    for n in res.sizes:
        mine, floor = res.run("ours", n), res.run("floor", n)
        if mine and floor:
            floor_us = floor.fanout.send_us_per_client()
            sends.append((n, mine.fanout.send_us_per_client() / floor_us, floor_us))
    judged = [r for n, r, _ in sends if n in SEND_COST_SIZES]
    out.append(
        (
            "send cost per client vs the raw-socket floor (floor's own µs/client in brackets)",
            f"<= {SEND_COST_MAX:g}x at N = " + ", ".join(f"{n:,}" for n in SEND_COST_SIZES),
            ", ".join(f"{n:,}: {r:.2f}x ({f:.2f} µs)" for n, r, f in sends) or "—",
            all(r <= SEND_COST_MAX for r in judged) if judged else None,
        )
    )
    versus = []
    for n in res.sizes:
        mine, ref = res.run("ours", n), res.run("websockets", n)
        if mine and ref:
            versus.append(
                (
                    n,
                    mine.fanout.last(50) / ref.fanout.last(50),
                    mine.fanout.last(99) / ref.fanout.last(99),
                )
            )
    out.append(
        (
            "vs python-websockets broadcast() (ours / theirs, last client p50 and p99)",
            "< 1.0 at every N",
            ", ".join(f"{n:,}: {a:.2f} / {b:.2f}" for n, a, b in versus) or "—",
            all(a < 1 and b < 1 for _, a, b in versus) if versus else None,
        )
    )
    run = ours(1000)
    if run and run.stages:
        st = run.stages
        p99 = st.abs_p99(st.server_ms)
        drift = st.drift_ms()
        trend = st.trend_ms()
        out.append(
            (
                "stage transitions, 1,000 clients (server broadcast vs grid)",
                "abs. error p99 <= 2 ms, no drift",
                f"p99 {p99:.2f} ms; k=3 minus k=1 {drift:+.2f} ms; "
                f"last minus first calculation {trend:+.2f} ms",
                p99 <= 2.0 and abs(drift) < 1.0 and abs(trend) < 1.0,
            )
        )
    else:
        out.append(("stage transitions, 1,000 clients", "within 2 ms at p99", "—", None))
    mems = [(r.clients, r.memory) for r in res.runs if r.server == "ours"]
    out.append(
        (
            "memory per idle connection; growth after 100 broadcasts",
            f"<= 16 KiB; no growth (<= {GROWTH_TOLERANCE_KIB} KiB)",
            "; ".join(
                f"{n:,}: {m.per_connection_kib:.1f} KiB, {m.growth_kib:+d} KiB" for n, m in mems
            ),
            all(
                m.per_connection_kib <= 16 and m.growth_kib <= GROWTH_TOLERANCE_KIB
                for n, m in mems
                if n >= 1000
            )
            if mems
            else None,
        )
    )
    shakes = [
        (r.clients, r.handshakes) for r in res.runs if r.server == "ours" and r.clients >= 1000
    ]
    out.append(
        (
            f"handshakes per second ({IN_FLIGHT} in flight, end to end)",
            ">= 3,000 per second",
            ", ".join(f"{n:,}: {h.per_second:,.0f}/s" for n, h in shakes) or "—",
            all(h.per_second >= 3000 for _, h in shakes) if shakes else None,
        )
    )
    encodes = [(r.clients, r.encodes, r.state_changes) for r in res.runs if r.server == "ours"]
    out.append(
        (
            "encodes per state change",
            "exactly one, whatever N is",
            ", ".join(f"{n:,}: {e}/{c}" for n, e, c in encodes),
            all(e == c for _, e, c in encodes) if encodes else None,
        )
    )
    slow = res.slow_consumer
    out.append(
        (
            f"median delivery to {NORMAL} readers beside a client that never reads",
            "<= 2x the same server without it",
            f"{slow.ratio:.2f}x ({slow.median_ms(slow.with_slow):.2f} ms vs "
            f"{slow.median_ms(slow.alone):.2f} ms)",
            slow.ratio <= 2.0,
        )
    )
    tui = res.tui
    if tui is not None and tui.running is not None:
        worst = max(tui.connected_s)
        out.append(
            (
                "TUI launch to connected frame",
                "<= 1 s",
                f"median {tui.connected(50):.2f} s, worst {worst:.2f} s",
                worst <= 1.0,
            )
        )
        out.append(
            (
                "TUI during a run",
                "< 10% of one core; bytes/s reported",
                f"{tui.running.cpu_percent:.1f}% of a core, "
                f"{tui.running.bytes_per_second:,.0f} B/s",
                tui.running.cpu_percent < 10,
            )
        )
    else:
        out.append(("TUI", "launch <= 1 s, run < 10% CPU", "—", None))
    return out


def _fanout_rows(res: Results) -> list[list[str]]:
    rows = []
    for n in res.sizes:
        mine = res.run("ours", n)
        for server in SERVERS:
            run = res.run(server, n)
            if run is None:
                continue
            f = run.fanout
            base = mine.fanout if mine else f
            rows.append(
                [
                    f"{n:,}",
                    SERVER_NAMES[server],
                    fmt(f.last(50), 2),
                    fmt(f.last(99), 2),
                    fmt(f.first(50), 2),
                    fmt(f.send_us_per_client(), 2),
                    fmt(percentile(f.send_ns, 50) / 1e6, 2),
                    ratio(f.last(50), base.last(50)),
                    ratio(f.last(99), base.last(99)),
                    ratio(f.send_us_per_client(), base.send_us_per_client()),
                    f"{f.broadcasts}" + (f" ({f.incomplete} incomplete)" if f.incomplete else ""),
                    f"{run.other_load:.0f}%",
                ]
            )
    return rows


def _tail_rows(res: Results) -> list[list[str]]:
    rows = []
    for n in res.sizes:
        for server in SERVERS:
            run = res.run(server, n)
            if run is None or not run.fanout.send_cpu_ns:
                continue
            f = run.fanout
            slow = f.slowest(SLOWEST_SHARE)

            def mean(values: Iterable[float], slow: list[int] = slow) -> str:
                picked = list(values)
                return fmt(sum(picked[i] for i in slow) / len(slow), 2)

            rows.append(
                [
                    f"{n:,}",
                    SERVER_NAMES[server],
                    str(len(slow)),
                    mean(f.last_ms),
                    mean(ns / 1e6 for ns in f.before_ns),
                    mean(ns / 1e6 for ns in f.send_cpu_ns),
                    mean((w - c) / 1e6 for w, c in zip(f.send_ns, f.send_cpu_ns, strict=True)),
                    mean(
                        last - (b + w) / 1e6
                        for last, b, w in zip(f.last_ms, f.before_ns, f.send_ns, strict=True)
                    ),
                    f"{sum(1 for x in f.switches if x)} of {f.broadcasts}",
                ]
            )
    return rows


TAIL_HEADER = [
    "N",
    "server",
    "slowest",
    "last client ms",
    "before loop ms",
    "loop CPU ms",
    "loop preempted ms",
    "after loop ms",
    "preempted",
]

FANOUT_HEADER = [
    "N",
    "server",
    "last p50 ms",
    "last p99 ms",
    "first p50 ms",
    "send µs/client",
    "send loop ms",
    "p50 / ours",
    "p99 / ours",
    "send / ours",
    "broadcasts",
    "other load",
]


def console(res: Results) -> str:
    """The fan-out table and the targets, for the terminal."""
    lines = _table(FANOUT_HEADER, _fanout_rows(res))
    lines += [""]
    lines += _table(
        ["figure", "target", "measured", "met?"],
        ([a, b, c, _met(d)] for a, b, c, d in targets(res)),
    )
    return "\n".join(lines)


def markdown(res: Results, notes: str = "") -> str:
    """The whole of docs/benchmarks.md."""
    v = versions()
    load = res.load
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{res.command}` on {res.when} in {res.seconds / 60:.1f} minutes. "
        "Rerun it to refresh this file; `python -m bench --quick` measures N = 100 and 1,000 only.",
        "",
        "## Set-up",
        "",
        f"- Machine: {describe()}.",
        f"- Versions: Python {v['python']}, aiohttp {v['aiohttp']}, msgspec {v['msgspec']}, "
        f"uvloop {v['uvloop']}, picows {v['picows']}, websockets {v['websockets']}, "
        f"textual {v['textual']}.",
        f"- Load generator: {RECEIVER} clients on uvloop in one process per server (4 x 10,000 "
        "sockets exceed one process's open-file limit; only one is busy at a time), all pinned "
        "to core 1 (`taskset -c 1`, with this orchestrator); the four servers run on core 0 "
        "(`taskset -c 0`), each in its own process on uvloop. For every N, fresh processes: "
        "each server in turn gets its N clients (the handshake figures), then broadcasts go "
        "round-robin across the four servers, one at a time, so whatever else the machine "
        "does falls on all of them alike.",
        "- Clock: the server process takes `time.monotonic_ns()` just before it decides a change "
        "(the benchmark hook calls `CalculationService.start`/`cancel`); each client "
        "timestamps its receipt on the same clock. Latency = receipt - decision.",
        "- Send cost per client: the server's own send loop timed in-process "
        "(for ours: `Hub.broadcast`, wrapped by the bench process), divided by N; p50 over the "
        "broadcasts. The raw-socket floor's own cost on this machine, the yardstick to compare "
        "runs on different machines by: "
        + (
            ", ".join(
                f"{r.clients:,}: {r.fanout.send_us_per_client():.2f} µs/client"
                for r in res.runs
                if r.server == "floor"
            )
            or "not measured"
        )
        + ". `python -m bench.sendpath` compares our loop with the floor's inside one process, "
        "over the same sockets.",
        f"- Other load on the machine while this ran: {load.foreign_seconds:.0f} CPU-seconds "
        f"used by processes outside the benchmark over {res.seconds:.0f} s "
        f"({100 * load.foreign_seconds / max(res.seconds, 1) / 2:.0f}% of the two cores); "
        f"load average {load.loadavg0.strip()} before, {load.loadavg1.strip()} after.",
        "",
        "## Targets",
        "",
    ]
    lines += _table(
        ["figure", "target", "measured", "met?"],
        ([a, b, c, _met(d)] for a, b, c, d in targets(res)),
    )
    lines += [
        "",
        "## Fan-out: time until the last of N clients has the message",
        "",
        "Ratios are the other server's figure divided by ours (below 1 means faster than ours). "
        "Other load: share of the two cores used by processes outside the benchmark during "
        "that row's run; rows measured under load are not comparable with quiet ones.",
        "",
    ]
    lines += _table(FANOUT_HEADER, _fanout_rows(res))
    gcs = [
        f"{r.clients:,}: {r.gc_during_broadcasts[0]} ({r.gc_during_broadcasts[1]} of generation 2,"
        f" longest {r.gc_during_broadcasts[2]:.1f} ms)"
        for r in res.runs
        if r.gc_during_broadcasts is not None
    ]
    lines += [
        "",
        "Garbage collections in our server during its broadcasts: " + "; ".join(gcs) + ".",
        "",
        "## Where the slow broadcasts' time goes",
        "",
        f"The slowest {SLOWEST_SHARE:.0%} of each server's broadcasts (by last-client latency, "
        "so the p99 is among them), taken apart on the shared clock: before the send loop "
        "(deciding the change, logging), the loop's own CPU time, the time the loop sat "
        "preempted (its wall time minus its CPU time), and after the loop until the last "
        "client had the message (the load generator's side). 'Preempted' counts the "
        "broadcasts, out of all, whose loop saw an involuntary context switch: another "
        "process took the server's core.",
        "",
    ]
    lines += _table(TAIL_HEADER, _tail_rows(res))
    lines += [
        "",
        "## Stage timing (ours, 21 transitions in 7 calculations)",
        "",
        "Signed error against the ideal grid t0 + k x stage, t0 being the decision to start. "
        "Server: when `Hub.broadcast_state` was entered; last client: when the last of N "
        "clients had it. Drift: mean error of the third transition minus the first; trend: "
        "mean error of the last calculation minus the first.",
        "",
    ]
    stage_rows = []
    for r in res.runs:
        if r.stages is None:
            continue
        st = r.stages
        stage_rows.append(
            [
                f"{r.clients:,}",
                f"{st.stage_seconds:g}",
                fmt(percentile(st.server_ms, 50), 2),
                fmt(st.abs_p99(st.server_ms), 2),
                fmt(max(abs(e) for e in st.server_ms), 2),
                fmt(percentile(st.client_ms, 50), 2),
                fmt(st.abs_p99(st.client_ms), 2),
                f"{st.drift_ms():+.2f}",
                f"{st.trend_ms():+.2f}",
            ]
        )
    lines += _table(
        [
            "N",
            "stage s",
            "server p50 ms",
            "server abs p99 ms",
            "server max ms",
            "last client p50 ms",
            "last client abs p99 ms",
            "drift ms",
            "trend ms",
        ],
        stage_rows,
    )
    lines += ["", "## Memory (server VmRSS)", ""]
    lines += _table(
        ["N", "server", "KiB per idle connection", "growth after broadcasts KiB", "broadcasts"],
        (
            [
                f"{r.clients:,}",
                SERVER_NAMES[r.server],
                fmt(r.memory.per_connection_kib, 2),
                f"{r.memory.growth_kib:+d}",
                str(r.memory.broadcasts),
            ]
            for r in res.runs
        ),
    )
    lines += [
        "",
        f"## Connection setup ({IN_FLIGHT} handshakes in flight)",
        "",
        "CPU is read from /proc/PID/stat in 10 ms ticks, so N = 100 is coarse. When the load "
        "generator's CPU per handshake is close to the elapsed time per handshake, the load "
        "generator, not the server, sets the rate. The floor's clients only open TCP.",
        "",
    ]
    lines += _table(
        ["N", "server", "handshakes/s", "server CPU µs each", "load generator CPU µs each"],
        (
            [
                f"{r.clients:,}",
                SERVER_NAMES[r.server],
                fmt(r.handshakes.per_second, 0),
                fmt(r.handshakes.server_cpu_us, 0),
                fmt(r.handshakes.client_cpu_us, 0),
            ]
            for r in res.runs
        ),
    )
    c = res.codec
    lines += [
        "",
        f"## Codec: one state message ({c.size} bytes)",
        "",
    ]
    lines += _table(
        ["operation", "µs"],
        [
            ["`protocol.encode` (msgspec)", fmt(c.encode_us, 3)],
            ["`server_decoder.decode` (msgspec, typed)", fmt(c.decode_us, 3)],
            [
                "stdlib `json.dumps` of the same dict (naive server, per client)",
                fmt(c.json_dumps_us, 3),
            ],
            ["stdlib `json.loads`", fmt(c.json_loads_us, 3)],
        ],
    )
    slow = res.slow_consumer
    lines += [
        "",
        f"## A client that never reads, beside {NORMAL} that do",
        "",
        f"Two servers with {NORMAL} reading clients each, one of them also with a peer stuck "
        f"behind its send limit ({slow.stuck_bytes:,} bytes queued), take changes in turn. "
        "Delivery latency, from the server publishing a change to a reader having decoded it, "
        f"median over the {NORMAL} readers per change:",
        "",
    ]
    lines += _table(
        ["server", "changes", "median ms", "p90 ms"],
        [
            [
                label,
                str(len(values)),
                fmt(percentile(values, 50) * 1e3, 2),
                fmt(percentile(values, 90) * 1e3, 2),
            ]
            for label, values in (("alone", slow.alone), ("beside the stuck peer", slow.with_slow))
        ],
    )
    lines += ["", "## Terminal client (`calc-tui URL` under an 80x24 pseudo-terminal)", ""]
    tui = res.tui
    if tui is None or tui.idle is None or tui.running is None:
        lines += ["Not measured in this run."]
    else:
        lines += [
            f"Launch to the first output: median {percentile(tui.first_output_s, 50):.2f} s; "
            f'launch to the frame that shows "● connected": median {tui.connected(50):.2f} s, '
            f"worst {max(tui.connected_s):.2f} s over {len(tui.connected_s)} launches.",
            "",
        ]
        lines += _table(
            [f"{WINDOW_SECONDS:g} s window", "CPU % of one core", "bytes to the terminal per s"],
            [
                [
                    "idle, connected (baseline)",
                    fmt(tui.idle.cpu_percent, 1),
                    fmt(tui.idle.bytes_per_second, 0),
                ],
                [
                    "during a calculation (3 stages of 2 s)",
                    fmt(tui.running.cpu_percent, 1),
                    fmt(tui.running.bytes_per_second, 0),
                ],
            ],
        )
    if notes:
        lines += ["", "## Notes", "", notes.strip()]
    return "\n".join(lines) + "\n"
