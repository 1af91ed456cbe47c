"""``python -m bench.profile``: where our server's time goes, sampled with py-spy.

Samples the server process (pinned to core 0) twice: while N clients connect, and while it
broadcasts to them. Prints the hottest frames of each; the raw stacks stay in ``--out``.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.proc import CLIENT_CORE, SERVER_CORE, Proc

SAMPLE_RATE = 500


def _spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    argv = [py_spy, "record", "-p", str(pid), "-o", str(out), "-f", "raw"]
    return subprocess.Popen(
        [*argv, "-r", str(SAMPLE_RATE), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(spy: subprocess.Popen[bytes]) -> None:
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait(5)


def summarize(raw: Path, top: int = 15) -> str:
    """The hottest frames by self time and by inclusive time, in percent of samples."""
    total = 0
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"{raw.name}: {total} samples", "  self:"]
    lines += [f"    {100 * c / total:5.1f}%  {k}" for k, c in own.most_common(top)]
    lines += ["  inclusive:"]
    lines += [f"    {100 * c / total:5.1f}%  {k}" for k, c in inclusive.most_common(top + 6)[6:]]
    return "\n".join(lines)


def main() -> int:
    """Connect, broadcast, print the two profiles."""
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("--clients", type=int, default=5000)
    p.add_argument("--broadcasts", type=int, default=60)
    p.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()))
    args = p.parse_args()
    python = sys.executable
    with (
        tempfile.TemporaryDirectory(prefix="calc-profile-") as logs,
        Proc("ours", SERVER_CORE, [python, "-m", "bench.servers.ours"], Path(logs)) as srv,
        Proc("loadgen", CLIENT_CORE, [python, "-m", "bench.loadgen"], Path(logs)) as gen,
    ):
        port = int(srv.read_line(30).split()[1])
        gen.read_line(30)
        connecting, broadcasting = args.out / "connect.txt", args.out / "broadcast.txt"
        spy = _spy(srv.pid, connecting)
        try:
            time.sleep(1)
            url = f"ws://127.0.0.1:{port}/ws"
            gen.ask(f"CONNECT ours {url} {args.clients} 100 ws", timeout=300)
        finally:
            _stop(spy)
        spy = _spy(srv.pid, broadcasting)
        try:
            time.sleep(1)
            for _ in range(args.broadcasts):
                seq = srv.ask("BCAST")[1]
                gen.ask(f"WAIT ours {seq} {args.clients} 10", timeout=40)
        finally:
            _stop(spy)
        gen.ask("CLOSE", timeout=120)
    print(summarize(connecting))
    print(summarize(broadcasting))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
