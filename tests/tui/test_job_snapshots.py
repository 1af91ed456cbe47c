"""SVG snapshots at 80x24 of a job's run: running, failed, flooding output (fed messages)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from msgspec.structs import replace
from textual.pilot import Pilot

from calc_client.reconnect import Connected, Connecting
from calc_tui.messages import ConnectionReported
from calc_tui.widgets.output_view import OutputView
from protocol import Output, OutputLine, Phase, State
from tests.tui.helpers import fed_app, received, state, welcome
from tests.tui.test_snapshots import SnapCompare, feed

CALC = "3f9c2a7d41b0"


def job_state(phase: Phase, seq: int, **fields: object) -> State:
    """A job's state: its stages are not timed."""
    stage = {Phase.STARTING: 0, Phase.IN_PROGRESS: 1, Phase.ALMOST_DONE: 2, Phase.SUCCESS: 3}
    base = state(phase, seq, stage=stage.get(phase, 1), stage_duration=0.0, stage_elapsed=3.2)
    return replace(base, **fields)


def lines(offset: int, *texts: str, stream: str = "out") -> Output:
    return Output(
        calculation_id=CALC,
        offset=offset,
        lines=[OutputLine(stream=stream, text=text) for text in texts],  # type: ignore[arg-type]
    )


TRAINING = [
    "epoch 1/30 loss 0.6931 acc 47.5%",
    "epoch 2/30 loss 0.5878 acc 85.5%",
    "epoch 3/30 loss 0.5305 acc 85.5%",
    "epoch 4/30 loss 0.4959 acc 85.8%",
    "epoch 5/30 loss 0.4733 acc 85.8%",
    "epoch 6/30 loss 0.4574 acc 86.2%",
    "epoch 7/30 loss 0.4457 acc 86.2%",
    "epoch 8/30 loss 0.4369 acc 87.0%",
    "epoch 9/30 loss 0.4300 acc 87.2%",
    "epoch 10/30 loss 0.4244 acc 87.2%",
    "epoch 11/30 loss 0.4200 acc 87.2%",
    "epoch 12/30 loss 0.4163 acc 87.5%",
]
"""What ``python examples/train.py --epochs 30`` prints first (its report lines are not output)."""

START = [
    ConnectionReported(Connecting(1)),
    ConnectionReported(Connected(welcome(clients=2))),
    received(job_state(Phase.IDLE, 0)),
    received(job_state(Phase.STARTING, 1)),
    received(job_state(Phase.IN_PROGRESS, 2)),
]


def then_output(
    run_before: Callable[[Pilot[Any]], Awaitable[None]],
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """``run_before``, then the Output view chosen with its key."""

    async def show_output(pilot: Pilot[Any]) -> None:
        await run_before(pilot)
        await pilot.press("o")
        await pilot.pause()

    return show_output


def test_snapshot_job_running(snap_compare: SnapCompare) -> None:
    run_before = feed(
        *START,
        received(lines(0, "training on 400 samples, 4 features", *TRAINING)),
        received(
            job_state(
                Phase.IN_PROGRESS,
                3,
                progress=0.4,
                message="epoch 12/30 loss 0.4163 acc 87.5%",
            )
        ),
        until=lambda app: (
            app.calc is not None
            and app.calc.seq == 3
            and app.query_one(OutputView).next_offset == 13
        ),
    )

    assert snap_compare(fed_app(), terminal_size=(80, 24), run_before=then_output(run_before))


def test_snapshot_job_failed(snap_compare: SnapCompare) -> None:
    run_before = feed(
        *START,
        received(lines(0, "loading data", "epoch 1/30 loss 0.675")),
        received(
            lines(
                2,
                "Traceback (most recent call last):",
                '  File "train.py", line 88, in <module>',
                "ValueError: loss is NaN",
                stream="err",
            )
        ),
        received(
            job_state(
                Phase.FAILED,
                3,
                progress=0.03,
                exit_code=3,
                message="ValueError: loss is NaN",
                ended_by="exit 3",
            )
        ),
        until=lambda app: app.calc is not None and app.calc.seq == 3,
    )
    assert snap_compare(fed_app(), terminal_size=(80, 24), run_before=run_before)


def test_snapshot_job_flooding_output(snap_compare: SnapCompare) -> None:
    hostile = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\x1b[0m \x1b[5;5Hmoved \u202eevil\x07"
    run_before = feed(
        *START,
        received(lines(0, *(["y"] * 40))),
        received(lines(1990, "y", "... 48,211 lines skipped", "y", hostile)),
        received(job_state(Phase.IN_PROGRESS, 3, canceling=True)),
        until=lambda app: (
            app.calc is not None
            and app.calc.seq == 3
            and app.query_one(OutputView).next_offset == 1994
        ),
    )

    assert snap_compare(fed_app(), terminal_size=(80, 24), run_before=then_output(run_before))
