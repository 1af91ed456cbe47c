"""examples/train.py as a real job: it trains, reports, checkpoints on SIGTERM, refuses nonsense."""

from __future__ import annotations

import json
import re
from pathlib import Path

from calc_server.jobs import CommandJob, Report
from tests.jobs.recorder import PYTHON, ROOT, Recorder

TRAIN = [PYTHON, "examples/train.py"]


async def run(*options: str, cancel_after_first_report: bool = False) -> Recorder:
    job = CommandJob([*TRAIN, *options], cwd=ROOT, grace=60)
    recorder = Recorder()
    job.start("train-1", recorder)
    if cancel_after_first_report:
        await recorder.wait_for(lambda e: isinstance(e, Report))
        job.cancel(grace=60)
    await job.wait()
    return recorder


async def test_it_trains_end_to_end_and_reports_every_epoch() -> None:
    recorder = await run("--epochs", "5", "--epoch-seconds", "0", "--seed", "7")
    assert recorder.exited.exit_code == 0
    epochs = [text for text in recorder.texts("out") if text.startswith("epoch ")]
    assert [text.split()[1] for text in epochs] == [f"{i}/5" for i in range(1, 6)]
    last = recorder.reports[-1]
    assert last.progress == 1.0
    assert last.message is not None
    found = re.fullmatch(r"epoch 5/5 loss (\d\.\d{4}) acc (\d+\.\d)%", last.message)
    assert found is not None
    assert float(found[2]) > 70  # it learns: the data is linearly separable up to 5 % noise
    assert recorder.texts("out")[-1].startswith("done: loss")
    assert recorder.exited.last_message == last.message


async def test_sigterm_writes_a_checkpoint_and_exits(tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.json"
    recorder = await run(
        "--epochs",
        "100000",
        "--epoch-seconds",
        "0.05",
        "--checkpoint",
        str(checkpoint),
        cancel_after_first_report=True,
    )
    exited = recorder.exited
    assert (exited.exit_code, exited.canceled, exited.killed) == (143, True, False)
    saved = json.loads(checkpoint.read_text())
    assert saved["epoch"] >= 1
    assert len(saved["weights"]) == 4
    assert isinstance(saved["bias"], float)
    assert exited.last_stderr == f"terminated in epoch {saved['epoch']}: checkpoint in {checkpoint}"


async def test_bad_options_fail_with_a_clear_message() -> None:
    recorder = await run("--epochs", "0")
    assert recorder.exited.exit_code == 2
    assert recorder.exited.message == "train.py: error: argument --epochs: must be above zero: '0'"
    recorder = await run("--lr", "fast")
    assert recorder.exited.message == "train.py: error: argument --lr: not a number: 'fast'"
