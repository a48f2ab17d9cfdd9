"""benchmarks/server_scale.py's placement of the database on CPUs of its own."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from benchmarks.server_scale import _cpus, main, pin_tree


def test_cpu_lists_are_parsed_and_bad_ones_refused():
    assert _cpus("1") == {1}
    assert _cpus("0,3") == {0, 3}
    with pytest.raises(argparse.ArgumentTypeError, match="not a list of CPU numbers"):
        _cpus("one")


def test_the_database_may_not_take_every_cpu(capsys):
    every = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    with pytest.raises(SystemExit) as exit_info:
        main(["--database-cpus", every])
    assert exit_info.value.code == 2
    assert "must leave CPUs" in capsys.readouterr().err


def test_a_process_and_its_children_are_pinned():
    cpu = min(os.sched_getaffinity(0))
    parent = subprocess.Popen(["sh", "-c", "sleep 30 & wait"], start_new_session=True)
    try:
        children: list[str] = []
        deadline = time.monotonic() + 5
        while not children and time.monotonic() < deadline:
            children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
            time.sleep(0.02)
        assert children
        pin_tree(parent.pid, {cpu})
        assert os.sched_getaffinity(parent.pid) == {cpu}
        assert all(os.sched_getaffinity(int(child)) == {cpu} for child in children)
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
