"""Rules the suite itself keeps (docs/testing.md), checked by running pytest on a sample."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

THREAD_RAISES = """
import threading

def test_a_thread_raises():
    worker = threading.Thread(target=lambda: 1 / 0)
    worker.start()
    worker.join()
"""


def test_it_fails_a_test_whose_thread_raised(tmp_path):
    sample = tmp_path / "test_sample.py"
    sample.write_text(THREAD_RAISES)
    command = [sys.executable, "-m", "pytest", "-q", "-c", str(ROOT / "pyproject.toml")]
    command += ["-p", "no:django", "--rootdir", str(tmp_path), str(sample)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed" in done.stdout
    assert "ZeroDivisionError" in done.stdout
