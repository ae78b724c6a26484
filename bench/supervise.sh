#!/usr/bin/env bash
# Supervisor benchmark (issue 18): `idpkit sandbox up` of a project needing postgres and redis,
# until both are ready, against starting the same two servers by hand the way their own
# tools do it: `pg_ctl -w start` (waits until postgres accepts connections) and
# `redis-server --daemonize yes` followed by a `redis-cli ping` loop. Same binaries, same
# settings (loopback, no Unix socket, fsync off, no persistence). Two cases, taking turns:
#   warm: the data directories exist (an `up` after a `down`);
#   cold: a fresh directory each run (initdb and the application's database on both sides).
# Stopping is not timed. Then the supervisor's own idle cost while the two run: CPU over 10 s
# and resident memory.
#
# Usage: bench/supervise.sh   (RUNS=7; BENCH_WORK=/tmp/idpkit-bench: postgres's user must be able
# to enter it when this runs as root; IDPKIT=path/to/idpkit)
# Goal: up to all-healthy no slower than by hand (ratio <= 1.0); idle CPU under 1%.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-7}
work=${BENCH_WORK:-/tmp/idpkit-bench}/supervise
target=${CARGO_TARGET_DIR:-$repo/target}
idpkit=${IDPKIT:-$target/release/idpkit}
if [[ -z ${IDPKIT:-} ]]; then
  (cd "$repo" && cargo build --release --locked -p idpkit-cli --quiet)
fi
bash "$repo/scripts/setup-system.sh"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
rm -rf "$work" && mkdir -p "$work" && chmod 755 "$work"
# postgres refuses root: by hand it runs as the postgres user, as idpkit does.
as_pg=()
[[ $(id -u) -eq 0 ]] && as_pg=(runuser -u postgres --)
python3 - "$runs" "$work" "$idpkit" "$pgbin" "${as_pg[@]}" <<'PY'
import os, shutil, socket, statistics, subprocess, sys, time

runs, work, idpkit, pgbin = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
as_pg = sys.argv[5:]
GEMFILE = 'source "https://rubygems.org"\ngem "rails"\ngem "pg"\ngem "redis"\n'

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def sh(*args, **kw):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)

def project(name):
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d); os.chmod(d, 0o755)
    with open(os.path.join(d, "Gemfile"), "w") as f:
        f.write(GEMFILE)
    return d

def idp_up(d):
    t = time.perf_counter(); sh(idpkit, "sandbox", "up", d); return time.perf_counter() - t

def idp_down(d):
    sh(idpkit, "sandbox", "down", d)

class Hand:
    """postgres and redis started by hand in `d`, on their own ports."""
    def __init__(self, d):
        self.d, self.pg, self.redis = d, free_port(), free_port()
        self.data = os.path.join(d, "pg")
    def init(self):
        os.makedirs(self.data, exist_ok=True)
        if as_pg:
            shutil.chown(self.d, "postgres"); shutil.chown(self.data, "postgres")
        pw = os.path.join(self.d, "pw")
        with open(pw, "w") as f: f.write("bench-password")
        if as_pg: shutil.chown(pw, "postgres")
        sh(*as_pg, f"{pgbin}/initdb", "-D", self.data, "-U", "sandbox", "-A", "scram-sha-256",
           f"--pwfile={pw}", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
    def up(self):
        t = time.perf_counter()
        fresh = not os.path.exists(os.path.join(self.data, "PG_VERSION"))
        if fresh:
            self.init()
        opts = (f"-p {self.pg} -c listen_addresses=127.0.0.1 -c unix_socket_directories= "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        sh(*as_pg, f"{pgbin}/pg_ctl", "-D", self.data, "-o", opts, "-l",
           os.path.join(self.data, "log"), "-w", "start")
        if fresh:  # the database the application's URL names, as `sandbox up` makes it
            sh(f"{pgbin}/createdb", "-h", "127.0.0.1", "-p", str(self.pg), "-U", "sandbox",
               "sandbox_development", env={**os.environ, "PGPASSWORD": "bench-password"})
        sh("redis-server", "--port", str(self.redis), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--daemonize", "yes", "--dir", self.d,
           "--pidfile", os.path.join(self.d, "redis.pid"))
        while subprocess.run(["redis-cli", "-p", str(self.redis), "ping"],
                             capture_output=True, text=True).stdout.strip() != "PONG":
            time.sleep(0.05)
        return time.perf_counter() - t
    def down(self):
        sh(*as_pg, f"{pgbin}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        sh("redis-cli", "-p", str(self.redis), "shutdown", "nosave")

def median_ms(xs):
    return statistics.median(xs) * 1000

results = {}
for case in ("warm", "cold"):
    idp_t, hand_t = [], []
    wd, hd = project(f"{case}-idp"), project(f"{case}-hand")
    hand = Hand(hd)
    if case == "warm":  # make the data once, untimed
        idp_up(wd); idp_down(wd); hand.up(); hand.down()
    for r in range(runs):
        if case == "cold":
            wd, hd = project(f"cold-idp-{r}"), project(f"cold-hand-{r}")
            hand = Hand(hd)
        idp_t.append(idp_up(wd)); idp_down(wd)
        hand_t.append(hand.up()); hand.down()
    results[case] = (median_ms(idp_t), median_ms(hand_t))
    i, h = results[case]
    print(f"{case:>5}: idpkit sandbox up {i:7.1f} ms   by hand (pg_ctl -w + redis-server) {h:7.1f} ms   ratio {i / h:.2f}")

# The supervisor at rest: the daemon `sandbox up` leaves, while both servers run.
d = project("idle")
idp_up(d)
import json
st = json.loads(subprocess.run([idpkit, "--json", "sandbox", "status", d], capture_output=True,
                               text=True, check=True).stdout)
pid = st["pid"]
def cpu_ticks(p):
    f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
def rss_kib(p):
    for line in open(f"/proc/{p}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
t0, c0 = time.perf_counter(), cpu_ticks(pid)
time.sleep(10)
t1, c1 = time.perf_counter(), cpu_ticks(pid)
hz = os.sysconf("SC_CLK_TCK")
print(f"supervisor idle: {(c1 - c0) / hz / (t1 - t0) * 100:.2f}% CPU over {t1 - t0:.0f} s, "
      f"{rss_kib(pid) / 1024:.1f} MiB resident")
idp_down(d)
PY
rm -rf "$work"
