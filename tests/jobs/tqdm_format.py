"""tqdm's default bar, written the way tqdm writes it (tqdm is not installed here).

tqdm 4.x, no terminal width known: ``{desc}: {percentage:3.0f}%|{bar:10}| {n}/{total}
[{elapsed}<{remaining}, {rate_fmt}]``, each redraw ``\\r`` + bar + spaces over what the last one
left, then ``\\n`` when the bar closes (``leave=True``); all on stderr.
"""

from __future__ import annotations

import sys
import time

_BLOCKS = " ▏▎▍▌▋▊▉█"


def _interval(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def _bar(fraction: float, width: int = 10) -> str:
    full, part = divmod(int(fraction * width * 8), 8)
    text = "█" * full + (_BLOCKS[part] if full < width else "")
    return text.ljust(width)


def bar_line(n: int, total: int, desc: str = "", rate: float | None = None) -> str:
    """One redraw of the bar at ``n`` of ``total``."""
    left = (f"{desc}: " if desc else "") + f"{n / total * 100:3.0f}%|"
    remaining = "?" if not rate else _interval((total - n) / rate)
    rate_fmt = "?it/s" if not rate else f"{rate:5.2f}it/s"
    elapsed = _interval(n / rate) if rate else "00:00"
    return f"{left}{_bar(n / total)}| {n}/{total} [{elapsed}<{remaining}, {rate_fmt}]"


def bar_stream(total: int, desc: str = "") -> str:
    """Everything a bar from 0 to ``total`` writes, as one string."""
    out = []
    last = 0
    for n in range(total + 1):
        line = bar_line(n, total, desc, rate=None if n == 0 else 49.5)
        out.append("\r" + line + " " * max(last - len(line), 0))
        last = len(line)
    return "".join(out) + "\n"


def main() -> None:
    """Run as a job: a 10-step bar on stderr, one redraw at a time, flushed."""
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for piece in bar_stream(total, desc="train").split("\r")[1:]:
        sys.stderr.write("\r" + piece)
        sys.stderr.flush()
        time.sleep(0.01)


if __name__ == "__main__":
    main()
