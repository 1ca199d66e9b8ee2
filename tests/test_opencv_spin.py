"""OpenCV's thread pool does not spin between livematte's calls (issue #17: ~8 ms CPU a 720p frame)."""
import os
import subprocess
import sys

PROBE = "import livematte, os; print(os.environ.get('OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER'))"


def _probe(env):
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_importing_livematte_turns_the_spin_off_before_opencv_loads():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_THREAD_POOL")}
    assert _probe(env) == "0"


def test_a_value_the_user_set_wins():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_THREAD_POOL")}
    env["OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER"] = "2000"
    assert _probe(env) == "2000"
