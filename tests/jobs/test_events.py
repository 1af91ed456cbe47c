"""What an ended run states: the line the eye should land on, and how it ended in words."""

from __future__ import annotations

import json
import subprocess
import sys

from calc_server.jobs import Exited
from calc_server.jobs.command import SUPERVISOR


def test_a_failure_states_its_last_stderr_line_before_its_last_message() -> None:
    exited = Exited(exit_code=1, last_message="epoch 3", last_stderr="KeyError: 'x'")
    assert exited.message == "KeyError: 'x'"
    assert Exited(exit_code=1, last_message="epoch 3").message == "epoch 3"


def test_a_success_or_a_cancel_states_the_jobs_own_message_only() -> None:
    assert Exited(exit_code=0, last_message="done", last_stderr="warning").message == "done"
    assert Exited(exit_code=0, last_stderr="warning").message is None
    canceled = Exited(exit_code=None, signal=15, canceled=True, last_message="epoch 2")
    assert canceled.message == "epoch 2"


def test_a_spawn_error_is_the_message() -> None:
    exited = Exited(exit_code=127, error="cannot run x: No such file or directory")
    assert exited.message == "cannot run x: No such file or directory"


def test_how_it_ended_in_words() -> None:
    assert Exited(exit_code=3).describe() == "exit 3"
    assert Exited(exit_code=None, signal=9).describe() == "killed by SIGKILL"
    assert Exited(exit_code=None, signal=200).describe() == "killed by signal 200"


def test_the_supervisor_needs_only_the_standard_library() -> None:
    """It runs with ``python -I``: nothing of ours or of site-packages may be importable."""
    probe = (
        "import importlib.util, json, sys\n"
        "before = set(sys.modules)\n"
        f"spec = importlib.util.spec_from_file_location('supervisor', {SUPERVISOR!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "new = {name.partition('.')[0] for name in set(sys.modules) - before}\n"
        "print(json.dumps(sorted(new)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    imported = set(json.loads(result.stdout))
    assert {"ctypes", "selectors", "subprocess"} <= imported  # the probe sees its imports
    assert imported <= set(sys.stdlib_module_names)
