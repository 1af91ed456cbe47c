"""CommandJob with real processes: how a run starts, speaks, fails, is canceled and cleaned up."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import time
from pathlib import Path
from typing import Any

import pytest
import uvloop

from calc_server.jobs import CommandJob, Exited, JobConfigError, Output, Report, Spawned, Started
from calc_server.jobs.output import CUT_MARKER, MAX_LINE_BYTES
from tests.jobs.recorder import ROOT, Recorder, group_gone, process_gone, python

# A job that prints "ready" once its SIGTERM disposition is set, then waits.
IGNORES_SIGTERM = python(
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(1000)\n"
)


async def run(argv: list[str], **options: Any) -> Recorder:
    """Run ``argv`` to its end and return what it emitted."""
    job = CommandJob(argv, **options)
    recorder = Recorder()
    job.start("calc-1", recorder)
    await job.wait()
    return recorder


def pid_of(recorder: Recorder) -> int:
    spawned = recorder.events[0]
    assert isinstance(spawned, Spawned)
    return spawned.pid


async def test_a_job_that_succeeds_reports_in_order() -> None:
    recorder = await run(
        python("import sys; print('hello'); print('to stderr', file=sys.stderr)"),
    )
    assert isinstance(recorder.events[0], Spawned)
    assert isinstance(recorder.events[1], Started)
    assert sorted(recorder.texts()) == ["hello", "to stderr"]
    assert recorder.texts("err") == ["to stderr"]
    assert recorder.exited == Exited(exit_code=0, last_stderr="to stderr")
    assert recorder.exited.message is None  # a success states only the job's own message


async def test_the_job_gets_its_calculation_id_unbuffered_output_and_its_directory(
    tmp_path: Path,
) -> None:
    code = "import os; print(os.environ['CALC_CALCULATION_ID'], os.environ['PYTHONUNBUFFERED'])\n"
    code += "print(os.getcwd()); print(os.environ.get('FROM_SERVER'))"
    recorder = await run(python(code), cwd=tmp_path, env={**os.environ, "FROM_SERVER": "yes"})
    assert recorder.texts() == ["calc-1 1", str(tmp_path), "yes"]


async def test_a_job_that_fails_states_its_code_and_last_stderr_line() -> None:
    recorder = await run(
        python(
            "import json, sys\n"
            "print(json.dumps({'calc': {'progress': 0.3, 'message': 'loading'}}))\n"
            "print('ValueError: bad input', file=sys.stderr)\n"
            "sys.exit(3)\n"
        )
    )
    exited = recorder.exited
    assert (exited.exit_code, exited.signal, exited.canceled) == (3, None, False)
    assert exited.last_message == "loading"
    assert exited.message == "ValueError: bad input"
    assert exited.describe() == "exit 3"


async def test_a_job_killed_by_a_signal_states_the_signal() -> None:
    recorder = await run(python("import os, signal; os.kill(os.getpid(), signal.SIGUSR1)"))
    exited = recorder.exited
    assert (exited.exit_code, exited.signal) == (None, signal.SIGUSR1)
    assert exited.describe() == "killed by SIGUSR1"
    assert not exited.canceled


async def test_cancel_sends_sigterm_and_ends_once_the_job_is_gone() -> None:
    job = CommandJob(["sh", "-c", "echo ready; exec sleep 1000"])
    recorder = Recorder()
    job.start("calc-1", recorder)
    await recorder.wait_for_line("ready")
    job.cancel(grace=60)
    exited = await job.wait()
    assert exited is not None
    assert (exited.signal, exited.canceled, exited.killed) == (signal.SIGTERM, True, False)
    assert group_gone(pid_of(recorder))


async def test_a_job_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    job = CommandJob(IGNORES_SIGTERM)
    recorder = Recorder()
    job.start("calc-1", recorder)
    await recorder.wait_for_line("ready")
    began = time.monotonic()
    job.cancel(grace=1.0)
    exited = await job.wait()
    elapsed = time.monotonic() - began
    assert exited is not None
    assert (exited.signal, exited.canceled, exited.killed) == (signal.SIGKILL, True, True)
    assert elapsed >= 1.0
    assert group_gone(pid_of(recorder))


async def test_cancel_before_the_job_even_spawned_still_ends_it() -> None:
    job = CommandJob(["sleep", "1000"])
    recorder = Recorder()
    job.start("calc-1", recorder)
    job.cancel(grace=60)
    exited = await job.wait()
    assert exited is not None
    assert (exited.signal, exited.canceled) == (signal.SIGTERM, True)


async def test_a_grandchild_that_ignores_sigterm_is_gone_when_the_run_ends() -> None:
    # The shell and its background sleep both ignore SIGTERM: only the SIGKILL to the whole
    # group after the grace ends them, and the run must not end before both are gone.
    job = CommandJob(["sh", "-c", "trap '' TERM; sleep 1000 & echo $!; wait"])
    recorder = Recorder()
    job.start("calc-1", recorder)
    await recorder.wait_for(lambda e: isinstance(e, Output))
    grandchild = int(recorder.texts()[0])
    assert not process_gone(grandchild)
    job.cancel(grace=0.5)
    exited = await job.wait()
    assert exited is not None
    assert exited.killed
    assert process_gone(grandchild)
    assert group_gone(pid_of(recorder))


async def test_leftovers_of_a_job_that_exited_are_ended_before_the_run_ends() -> None:
    job = CommandJob(["sh", "-c", "sleep 1000 & echo $!"], grace=60)
    recorder = Recorder()
    job.start("calc-1", recorder)
    exited = await job.wait()
    grandchild = int(recorder.texts()[0])
    assert exited is not None
    assert (exited.exit_code, exited.canceled) == (0, False)
    assert process_gone(grandchild)
    assert group_gone(pid_of(recorder))


async def test_a_flood_is_cut_to_the_budget_and_the_excess_counted() -> None:
    rate = 2000.0
    job = CommandJob(["yes"], lines_per_second=rate)
    recorder = Recorder()
    began = time.monotonic()
    job.start("calc-1", recorder)
    await recorder.wait_for_line("lines skipped")
    job.cancel(grace=60)
    await job.wait()
    elapsed = time.monotonic() - began
    texts = recorder.texts()
    shown = [text for text in texts if text == "y"]
    notices = [text for text in texts if text.endswith("lines skipped")]
    skipped = sum(int(text.split()[1].replace(",", "")) for text in notices)
    assert set(texts) == {"y", *notices}
    assert skipped > 0
    # Product promise: never more than the burst plus the rate, whatever the machine's speed.
    assert len(shown) + len(notices) <= rate + rate * elapsed + 1
    assert recorder.exited.canceled


async def test_invalid_utf8_and_escape_sequences_arrive_as_text() -> None:
    recorder = await run(
        python(
            r"import sys; sys.stdout.buffer.write(b'\xff\xfeok \x1b[31mred\x1b[0m \x1b]0;t\x07\n')"
        )
    )
    assert recorder.texts() == ["\ufffd\ufffdok \x1b[31mred\x1b[0m \x1b]0;t\x07"]


async def test_a_job_that_never_prints_a_newline_gives_one_cut_line() -> None:
    recorder = await run(
        python(
            "import sys\n"
            "for _ in range(100):\n"
            "    sys.stdout.write('x' * 10000); sys.stdout.flush()\n"
        )
    )
    assert recorder.texts() == ["x" * MAX_LINE_BYTES + CUT_MARKER]
    assert recorder.exited.exit_code == 0


async def test_a_partial_last_line_comes_out_at_exit() -> None:
    recorder = await run(["printf", "first\\nno newline at the end"])
    assert recorder.texts() == ["first", "no newline at the end"]


async def test_a_report_line_is_progress_not_output() -> None:
    recorder = await run(
        python(
            "import json, time\n"
            "print('starting', flush=True)\n"
            "time.sleep(0.05)\n"
            "print(json.dumps({'calc': {'progress': 0.42, 'message': 'epoch 3/10',"
            " 'stage': 'ALMOST_DONE'}}))\n"
            'print(\'{"calc": {"progress": "high"}}\')\n'
        )
    )
    assert recorder.texts() == ["starting", '{"calc": {"progress": "high"}}']
    assert recorder.reports[-1] == Report(progress=0.42, message="epoch 3/10", stage="ALMOST_DONE")
    assert recorder.exited.last_message == "epoch 3/10"


async def test_a_tqdm_bar_is_progress_and_never_output() -> None:
    recorder = await run(python("from tests.jobs.tqdm_format import main; main()"), cwd=ROOT)
    assert recorder.texts() == []
    assert recorder.reports[-1].progress == 1.0
    assert recorder.reports[-1].message == "train 100% 10/10 [00:00<00:00, 49.50it/s]"
    progress = [r.progress for r in recorder.reports]
    assert progress == sorted(progress)
    assert isinstance(recorder.events[1], Started)  # a bar is a sign of life too


async def test_runs_follow_one_another_and_overlap_is_refused() -> None:
    job = CommandJob(["sh", "-c", "echo $CALC_CALCULATION_ID; sleep 0.2"])
    first, second = Recorder(), Recorder()
    job.start("run-1", first)
    assert job.running
    with pytest.raises(RuntimeError, match="in progress"):
        job.start("run-2", second)
    await job.wait()
    assert not job.running
    job.start("run-2", second)
    await job.wait()
    assert (first.texts(), second.texts()) == (["run-1"], ["run-2"])


async def test_an_executable_that_vanished_after_the_check_fails_the_run(tmp_path: Path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    job = CommandJob([str(script)])
    script.unlink()
    recorder = Recorder()
    job.start("calc-1", recorder)
    await job.wait()
    exited = recorder.exited
    assert exited.exit_code == 127
    assert exited.message is not None
    assert "No such file or directory" in exited.message
    assert recorder.events == [exited]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the job command is empty"),
        (["no-such-program-calc"], "job executable not found in PATH: no-such-program-calc"),
        (["./missing.sh"], "job executable not found: ./missing.sh"),
        (["./plain.txt"], "job executable is not executable: ./plain.txt"),
    ],
)
def test_a_command_that_cannot_run_is_refused_at_construction(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    (tmp_path / "plain.txt").write_text("not a program\n")
    with pytest.raises(JobConfigError) as refused:
        CommandJob(argv, cwd=tmp_path)
    assert str(refused.value) == message


def test_a_missing_directory_is_refused_at_construction(tmp_path: Path) -> None:
    with pytest.raises(JobConfigError, match="job directory not found"):
        CommandJob(["true"], cwd=tmp_path / "nowhere")


def test_it_runs_on_uvloop_too() -> None:
    async def main() -> Recorder:
        return await run(["sh", "-c", "echo on uvloop; exit 4"])

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        recorder = runner.run(main())
    assert recorder.texts() == ["on uvloop"]
    assert recorder.exited.exit_code == 4


async def test_the_job_gets_default_signal_dispositions_not_the_supervisors() -> None:
    recorder = await run(
        python(
            "import signal\n"
            "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n"
            "print(signal.getsignal(signal.SIGHUP) == signal.SIG_DFL)\n"
            "print(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)\n"
        )
    )
    assert recorder.texts() == ["True", "True", "True"]


async def test_if_the_supervisor_dies_the_runner_ends_the_group_itself() -> None:
    job = CommandJob(["sh", "-c", "trap '' TERM; echo $PPID; sleep 1000 & echo $!; wait"])
    recorder = Recorder()
    job.start("calc-1", recorder)
    await recorder.wait_for(lambda e: isinstance(e, Output) and len(recorder.texts()) >= 2)
    supervisor, grandchild = (int(text) for text in recorder.texts()[:2])
    os.kill(supervisor, signal.SIGKILL)
    exited = await job.wait()
    assert exited is not None
    assert exited.error == "the job's supervisor died"
    assert exited.killed
    assert group_gone(pid_of(recorder))
    assert process_gone(grandchild)
