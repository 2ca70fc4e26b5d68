"""Run one command and write its own resource usage as JSON: the measuring end of run_child.

    python -m bench.spawn USAGE.json COMMAND...

Linux keeps a process's peak RSS across exec, and subprocess starts a child as a copy (fork or
vfork) of its parent, so a child started straight from the benchmark would report the benchmark's
own peak (the served mirror, ~100 MB) when its own is smaller. This small process starts the
command instead, from its own small image, waits for it with os.wait4 and records wall time, user
and system CPU and peak RSS of the command alone. Output streams pass through untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> None:
    usage_file, command = sys.argv[1], sys.argv[2:]
    start = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    with open(usage_file, "w", encoding="utf-8") as handle:
        json.dump(
            {
                "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime,
                "max_rss": usage.ru_maxrss * 1024,  # Linux reports KiB
                "returncode": os.waitstatus_to_exitcode(status),
            },
            handle,
        )


if __name__ == "__main__":
    main()
