#!/usr/bin/env python3
"""Runs several shell commands in turn, RUNS rounds; prints one JSON line per command.

Usage: alternate.py [--no-shell] RUNS CMD...  -> per CMD: {"median_s", "runs_s", "max_rss_mib"}
"{run}" in a command is replaced by the round number, so each run can write into a
directory of its own. Taking turns spreads whatever the machine does meanwhile (other
builds, the kernel writing back the previous run) over every command alike.
--no-shell: each command is split into words (shlex) and started directly, not by bash: for
commands of a few milliseconds, bash's own start would otherwise be a large, equal share of
both times and hide the ratio.
"""

import json
import shlex
import os
import statistics
import subprocess
import sys
import time


def main() -> None:
    args = sys.argv[1:]
    no_shell = args[:1] == ["--no-shell"]
    if no_shell:
        args = args[1:]
    runs, cmds = int(args[0]), args[1:]
    times = [[] for _ in cmds]
    peak = [0 for _ in cmds]
    for run in range(runs):
        for i, cmd in enumerate(cmds):
            cmd = cmd.replace("{run}", str(run))
            start = time.perf_counter()
            # wait4 gives this child's own peak RSS, not the maximum over all children so far.
            argv = shlex.split(cmd) if no_shell else ["bash", "-c", cmd]
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            times[i].append(time.perf_counter() - start)
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(f"alternate: command failed: {cmd}")
            peak[i] = max(peak[i], usage.ru_maxrss)
    for t, p in zip(times, peak):
        print(json.dumps({"median_s": statistics.median(t), "runs_s": t, "max_rss_mib": p / 1024}))


if __name__ == "__main__":
    main()
