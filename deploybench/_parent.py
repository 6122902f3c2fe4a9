"""Child processes that end when their parent dies.

A ``kill -9`` of ``deploybench record``/``compare`` cannot run any cleanup, so the
children (profiler workers, comparison pool workers) watch their parent themselves.
"""

from __future__ import annotations

import os
import threading
import time

#: Environment variable through which a parent tells a child its PID.
PARENT_PID_ENV = "DEPLOYBENCH_PARENT_PID"


def exit_with_parent(parent: int | None = None, poll_s: float = 1.0) -> None:
    """End this process (exit status 3) once its parent is gone.

    Args:
        parent: PID of the parent to watch. Pass it from the parent (an initializer
            argument or :data:`PARENT_PID_ENV`): reading ``os.getppid()`` in the child
            races with the parent's death, since a child re-parented before it looks
            would watch its new parent forever. None: the environment variable, else
            ``os.getppid()``.
        poll_s: Seconds between checks.
    """
    if parent is None:
        env = os.environ.get(PARENT_PID_ENV, "")
        parent = int(env) if env.isdigit() else os.getppid()

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(3)
            time.sleep(poll_s)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
