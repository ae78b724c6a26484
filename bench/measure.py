#!/usr/bin/env python3
"""Runs a shell command several times; prints the median wall time and the peak RSS.

Usage: measure.py RUNS SETUP_CMD CMD  -> prints JSON {"median_s", "runs_s", "max_rss_mib"}
SETUP_CMD runs (untimed) before each run, e.g. to empty a store; pass "" for none.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import time


def main() -> None:
    runs, setup, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    times = []
    peak = 0
    for _ in range(runs):
        if setup:
            subprocess.run(setup, shell=True, check=True)
        start = time.perf_counter()
        # wait4 gives this child's own peak RSS, not the maximum over all children so far.
        proc = subprocess.Popen(["bash", "-c", cmd], stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"measure: command failed: {cmd}")
        peak = max(peak, usage.ru_maxrss)
    print(json.dumps({"median_s": statistics.median(times), "runs_s": times, "max_rss_mib": peak / 1024}))


if __name__ == "__main__":
    main()
