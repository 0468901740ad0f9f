#!/usr/bin/env python3
"""Side-by-side benchmark: Magnetar vs NATS JetStream vs Redis Streams vs the machine's limits.

Driven by bench/Makefile (`make bench`, `make bench QUICK=1`). Every system runs alone, one at a
time, on 127.0.0.1, with a fresh data dir under the work dir. Writes <out>/<date>-<host>.md, the
raw outputs and PNG plots (gnuplot, when installed).

usage: run.py --build DIR --tools DIR --out DIR [--quick] [--only a,c,...]
"""
import argparse, datetime, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--build", required=True, help="CMake build dir with bin/magnetar, bin/mg_bench_load")
ap.add_argument("--tools", required=True, help="dir with peer_bench and disk_paced")
ap.add_argument("--out", required=True)
ap.add_argument("--quick", action="store_true")
ap.add_argument("--only", help="comma-separated sections to run (limits,a,b,c,d,e,f,g,redis,nats), for working on one")
args = ap.parse_args()
Q = args.quick
BIN = os.path.join(args.build, "bin")
MAGNETAR = os.path.join(BIN, "magnetar")
LOAD = os.path.join(BIN, "mg_bench_load")
PEER = os.path.join(args.tools, "peer_bench")
DISKP = os.path.join(args.tools, "disk_paced")
SRC = os.path.dirname(os.path.abspath(__file__))
os.makedirs(args.out, exist_ok=True)
WORK = tempfile.mkdtemp(prefix="mgbench-", dir=os.environ.get("MG_BENCH_TMP", "/var/tmp"))
RAW = os.path.join(args.out, "raw")
if not args.only:  # a full run rewrites every raw file: drop those of an earlier run
    shutil.rmtree(RAW, ignore_errors=True)
os.makedirs(RAW, exist_ok=True)
STAMP = datetime.datetime.now().strftime("%Y-%m-%d")
HOST = socket.gethostname()
T_START = time.time()

# sizes: full run vs QUICK smoke run (seconds)
SIZE = 1024
BATCH = 100
N_MAX = 3_000_000 if not Q else 20_000
N_REDIS1 = 100_000 if not Q else 2_000
N_REDIS8 = 300_000 if not Q else 5_000
N_NATS = 500_000 if not Q else 10_000
LAT_SECONDS = 8 if not Q else 1
B_RUNS = 5  # (b) runs (one in QUICK); the disk's latency drifts between them
C_RUNS = 5  # (c) runs (one in QUICK); fan-out moved between 0.42 and 0.64 of iperf3 in one hour
# (b): seconds at the rate before latency counts (OpenMessaging Benchmark warms up too). Long
# enough for each partition to roll twice at half of (a) (~95 MB/s into 256 MB segments): from
# the third segment on, the store writes over the files of consumed segments, as a broker does
# once it has run for a while. The runs at the second rate (half of magnetar-perf's (a)) roll
# less often, so they warm up WARMUP_Q.
WARMUP = 6 if not Q else 0.2
WARMUP_Q = 12
SEG_MB = 256  # Magnetar's default managedLedgerMaxSizePerLedgerMbytes; disk_paced rolls alike
N_FANOUT = 2_000_000 if not Q else 10_000
N_CATCHUP = 1_048_576 if not Q else 20_000      # 1 GiB of 1 KiB messages
N_IDLE = 10_000 if not Q else 300
FIO_SIZE = "1G" if not Q else "16M"
IPERF_SECONDS = 4 if not Q else 1

R = {}       # figures
NOTES = []   # what was skipped or differs, stated in the results
procs = []


def log(*a):
    print("[bench %5.1fs]" % (time.time() - T_START), *a, flush=True)


def tcp_cc():
    try:
        with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def have(cmd):
    return shutil.which(cmd) is not None


def kv(line):
    return {k: (float(v) if re.fullmatch(r"-?[0-9.]+", v) else v)
            for k, v in re.findall(r"(\w+)=(\S+)", line)}


def run(cmd, timeout, name=None):
    log("$", " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if name:
        with open(os.path.join(RAW, name + ".txt"), "w") as f:
            f.write(" ".join(cmd) + "\n" + p.stdout + p.stderr)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (cmd[0], p.returncode, (p.stderr or p.stdout)[-400:]))
    return p.stdout


def rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith(field + ":"):
                return int(l.split()[1])
    return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("server did not listen on %d" % port)


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Magnetar:
    def __init__(self, name, sync=True, extra="", wrapper=None):
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "broker.conf")
        with open(conf, "w") as f:
            f.write("journalSyncData=%s\nbindAddress=127.0.0.1\nadvertisedAddress=127.0.0.1\n"
                    "keepAliveIntervalSeconds=300\n%s" % ("true" if sync else "false", extra))
        cmd = (wrapper or []) + [MAGNETAR, "standalone", "-c", conf, "--data-dir",
                                 os.path.join(self.dir, "data"), "--port", "0", "--web-port", "0"]
        self.t0 = time.perf_counter()
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(os.path.join(self.dir, "log"), "w"),
                                  preexec_fn=raise_nofile)
        line = self.p.stdout.readline().decode()
        m = re.search(r"brokerServicePort=(\d+) webServicePort=(\d+)", line)
        if not m:
            stop(self.p)
            raise RuntimeError("magnetar did not start: " + line + open(os.path.join(self.dir, "log")).read()[-500:])
        self.port, self.web = int(m.group(1)), int(m.group(2))
        self.ready_ms = (time.perf_counter() - self.t0) * 1000

    def stop(self):
        stop(self.p)


def raise_nofile():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    except ValueError:
        pass


def load(port, name, extra, timeout=300):
    out = run([LOAD, "--port", str(port), "-s", str(SIZE), "--timeout", str(timeout - 5),
               "--series", os.path.join(RAW, name + ".series"),
               "--lat", os.path.join(RAW, name + ".lat")] + extra, timeout, name)
    return kv(out.strip().splitlines()[-1])


def peer(kind, port, name, extra, timeout=300):
    out = run([PEER, kind, "--port", str(port), "-s", str(SIZE), "--timeout", str(timeout - 5),
               "--series", os.path.join(RAW, name + ".series"),
               "--lat", os.path.join(RAW, name + ".lat")] + extra, timeout, name)
    return kv(out.strip().splitlines()[-1])


def disk_busy_ms():
    """Milliseconds the disk holding WORK has been busy (io_ticks), or None when unknown."""
    try:
        st = os.stat(WORK).st_dev
        with open("/sys/dev/block/%d:%d/stat" % (os.major(st), os.minor(st))) as f:
            return int(f.read().split()[9])
    except (OSError, IndexError, ValueError):
        return None


def wait_quiet_disk(limit=30):
    """Sync, then wait until the disk has been idle for 1.5 s (at most limit s). Deleting
    gigabytes on a file system mounted with `discard` keeps the disk busy after the unlink and
    the sync return: (b) runs started right after disk_paced deleted its files had a p99 of
    200-290 ms. Returns the seconds the sync took and the seconds waited after it."""
    t = time.time()
    os.sync()
    t0 = time.time()
    prev = disk_busy_ms()
    if prev is None:
        return t0 - t, 0.0
    quiet_since = t0
    while time.time() - t0 < limit and time.time() - quiet_since < 1.5:
        time.sleep(0.25)
        cur = disk_busy_ms()
        if cur - prev > 10:  # busy more than 10 ms of the last 250
            quiet_since = time.time()
        prev = cur
    return t0 - t, time.time() - t0


def settle():
    """Delete what the earlier measurements stored and write back what they left dirty (the
    page-cache run leaves gigabytes): each starts with the same free memory and a quiet disk."""
    for name in os.listdir(WORK):
        d = os.path.join(WORK, name)
        for sub in (os.listdir(d) if os.path.isdir(d) else []):
            x = os.path.join(d, sub)
            if os.path.isdir(x):
                shutil.rmtree(x, ignore_errors=True)
            elif sub.endswith((".aof", ".rdb")):
                os.unlink(x)
    ts, q = wait_quiet_disk()
    log("settled (sync took %.1f s, then the disk was quiet after %.1f s)" % (ts, q))


def section(name, fn):
    if args.only and name.split()[0].strip("()").lower() not in args.only.split(","):
        return
    settle()
    try:
        fn()
    except Exception as e:  # a failing section is reported, the others still run
        log("FAILED", name, e)
        NOTES.append("%s: failed: %s" % (name, str(e).strip().replace("\n", " ")[:300]))


# (b) paced load: the sending thread of each load generator gets SCHED_FIFO when allowed, so on
# a 2-core machine shared with the server its own wake-up delays are not reported as latency
RT = ["--rt"] if os.geteuid() == 0 else []

ENTRY_BYTES = BATCH * (SIZE + 6) + 60  # batch payload (+ per-message header) + entry header

# ---------------------------------------------------------------- limits
def fio(name, jobs=1, rate_per_job=None, size=None):
    """fio sequential write + fdatasync after every write of ENTRY_BYTES; jobs files in parallel,
    optionally paced. Returns MB/s and fdatasync latency percentiles (ms)."""
    d = os.path.join(WORK, "fio-" + name)
    os.makedirs(d, exist_ok=True)
    cmd = ["fio", "--name=" + name, "--directory=" + d, "--rw=write", "--bs=%d" % ENTRY_BYTES,
           "--size=" + (size or FIO_SIZE), "--ioengine=sync", "--fdatasync=1", "--numjobs=%d" % jobs,
           "--group_reporting", "--output-format=json"]
    if rate_per_job:
        cmd.append("--rate=%d" % rate_per_job)
    out = run(cmd, 300, name)
    shutil.rmtree(d, ignore_errors=True)
    j = json.loads(out[out.index("{"):])["jobs"][0]
    pc = j["sync"]["lat_ns"]["percentile"]
    return dict(MBps=j["write"]["bw_bytes"] / 1048576, p50=pc["50.000000"] / 1e6, p99=pc["99.000000"] / 1e6,
                p999=pc.get("99.900000", pc["99.000000"]) / 1e6)


def iperf3(name):
    port = free_port()
    s = subprocess.Popen(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)  # no probe connection: it would use up the one-off (-1) server
        out = run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(IPERF_SECONDS), "-J"], 60, name)
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 8 / 1048576
    finally:
        stop(s)


def limits():
    if have("fio"):
        f = fio("fio")
        R["fio_MBps"], R["fio_sync_p50_ms"], R["fio_sync_p99_ms"], R["fio_sync_p999_ms"] = \
            f["MBps"], f["p50"], f["p99"], f["p999"]
    else:
        NOTES.append("fio not installed: disk limit not measured")
    if have("iperf3"):
        R["iperf3_MBps"] = iperf3("iperf3")
    else:
        NOTES.append("iperf3 not installed: loopback limit not measured")


# ---------------------------------------------------------------- magnetar
MG_ARGS = ["-b", str(BATCH), "-p", "4", "-w", "16"]


def magnetar_a():
    for sync, key in ((True, "mg_durable"), (False, "mg_pagecache")):
        if not sync:  # section() settled before the first
            settle()
        m = Magnetar(key, sync=sync)
        try:
            R[key] = load(m.port, key + "_a", MG_ARGS + ["-n", str(N_MAX), "--topic", "persistent://public/default/a"])
        finally:
            m.stop()
    perf = os.path.join(BIN, "magnetar-perf")
    if not os.path.exists(perf):
        NOTES.append("(a) magnetar-perf not built: the libmagnetar row is missing")
        return
    # the same workload through the product's own client and tool, as a user would run it
    settle()
    m = Magnetar("mg_perf")
    try:
        req = urllib.request.Request("http://127.0.0.1:%d/admin/v2/persistent/public/default/perf/partitions" % m.web,
                                     data=b"4", method="PUT", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()
        out = run([perf, "produce", "persistent://public/default/perf", "-u", "pulsar://127.0.0.1:%d" % m.port,
                   "-r", "0", "-s", str(SIZE), "-m", str(N_MAX), "-bm", str(BATCH), "-o", "10000"], 300, "mg_perf_a")
        sm = re.search(r"produced (\d+) messages in ([\d.]+) s: ([\d.]+) msg/s, ([\d.]+) MB/s, (\d+) errors", out)
        lm = re.search(r"latency ms: mean [\d.]+ +p50 ([\d.]+) +p95 [\d.]+ +p99 ([\d.]+) +p999 ([\d.]+)", out)
        if not sm or not lm or int(sm.group(1)) != N_MAX or int(sm.group(5)):
            raise RuntimeError("magnetar-perf: unexpected summary: " + out[-300:])
        R["mg_perf"] = dict(msgs_per_s=float(sm.group(3)), MB_per_s=float(sm.group(4)),
                            pub_p50_ms=float(lm.group(1)), pub_p99_ms=float(lm.group(2)), pub_p999_ms=float(lm.group(3)))
    finally:
        m.stop()


def run_name(raw, i):
    """Raw-file name of repeated run i: <raw><i>.* (median_run copies the reported one to <raw>.*)"""
    return "%s%d" % (raw, i)


LAT_BUCKETS = ("le_0_5", "le_1", "le_5", "le_10", "le_20", "le_50", "le_100", "le_200", "le_1000", "overflow")


def storage_latency(m):
    """The broker's own latency histograms, summed over topics: pulsar_storage_write_latency_*
    (from a SEND read to its completion on the loop: storage queue, write, fdatasync, hand-back)
    and pulsar_storage_ledger_write_latency_* (the journal write alone: a storage worker's
    pwritev and the fdatasync covering it). ({bucket: entries} or None, the same for the journal)."""
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % m.web, timeout=10).read().decode()
    except OSError:
        return None, None
    path, journal = dict.fromkeys(LAT_BUCKETS, 0.0), dict.fromkeys(LAT_BUCKETS, 0.0)
    for line in text.splitlines():
        mt = re.match(r"pulsar_storage_(ledger_)?write_latency_(le_[0-9_]+|overflow)(?:\{[^}]*\})? ([0-9.eE+-]+)$", line)
        if mt and mt.group(2) in path:
            (journal if mt.group(1) else path)[mt.group(2)] += float(mt.group(3))
    return (path if sum(path.values()) else None), (journal if sum(journal.values()) else None)


def median_run(runs, *raws):
    """The run with the median first field of runs [(figure, i, ...)]. For each raw name, the
    median run's files are copied to <raw>.*, which the plots read."""
    m = sorted(runs, key=lambda x: x[0])[len(runs) // 2]
    for raw in raws:
        for ext in (".lat", ".series", ".txt"):
            src = os.path.join(RAW, run_name(raw, m[1]) + ext)
            if os.path.exists(src):
                shutil.copy(src, os.path.join(RAW, raw + ext))
    return m


def disk_paced(name, entries_per_file):
    """The disk alone under (b)'s storage pattern: 4 files, entries due at a fixed rate, group
    commit per file (write what is due, fdatasync), each entry's wait counted from its due time."""
    d = os.path.join(WORK, "diskp-" + name)
    os.makedirs(d, exist_ok=True)
    try:
        out = run([DISKP, "--dir", d, "-f", "4", "-b", str(ENTRY_BYTES), "-r", "%.1f" % entries_per_file,
                   "-t", str(LAT_SECONDS), "--warmup", str(WARMUP), "--seg", str(SEG_MB), "--recycle",
                   "--lat", os.path.join(RAW, name + ".lat")],
                  120, name)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return kv(out.strip().splitlines()[-1])


def paced_run(name, raw, rate, profile=False, warmup=WARMUP):
    """One (b)-style run on a fresh broker: rate msgs/s on the lat topic, warmup s not counted.
    With profile, the broker's storage-latency buckets are read before it stops."""
    m = Magnetar(name)
    try:
        r = load(m.port, raw, MG_ARGS + ["-k", "1", "-r", "%.0f" % rate, "-n", "%d" % (rate * (warmup + LAT_SECONDS)),
                                         "--warmup", str(warmup)] + RT + ["--topic", "persistent://public/default/lat"])
        if profile:
            r["storage_lat"], r["journal_lat"] = storage_latency(m)
    finally:
        m.stop()
    return r


def magnetar_b():
    """Half of (a)'s rate, B_RUNS times; each run right after fio and disk_paced writing the same
    pattern (4 files, one per partition, each at a quarter of the rate), because this VM's disk
    latency drifts within minutes. The run with the median p99 is reported, all runs are listed."""
    rate = R["mg_durable"]["msgs_per_s"] / 2
    runs = []
    for i in range(1 if Q else B_RUNS):
        f = dp = None
        if i:  # section() settled before the first
            settle()
        f1 = None
        if have("fio"):  # the fio job again, so each run has its own target
            f1 = fio("fio_seq_b%d" % i, size=None if Q else "512M")
            per_job = rate / BATCH / 4 * ENTRY_BYTES
            f = fio("fio_b%d" % i, jobs=4, rate_per_job=per_job, size="%dk" % max(1024, per_job * LAT_SECONDS / 1024))
        if os.path.exists(DISKP):
            wait_quiet_disk()
            dp = disk_paced(run_name("disk_paced_b", i), rate / BATCH / 4)
        wait_quiet_disk()  # disk_paced and fio deleted gigabytes
        r = paced_run("mg_lat%d" % i, run_name("mg_b", i), rate, profile=True)
        runs.append((r["pub_p99_ms"], i, r, f, dp, f1))
    R["mg_lat_runs"] = [dict(p99=x[0], fio_p99=x[3]["p99"] if x[3] else None,
                             fio_seq_p99=x[5]["p99"] if x[5] else None,
                             disk_p99=x[4]["resp_p99_ms"] if x[4] else None) for x in runs]
    _, _, R["mg_lat"], f, dp, _ = median_run(runs, "mg_b", "disk_paced_b")
    if f:
        R["fio_b"] = f
    if dp:
        R["disk_b"] = dp
    if Q:
        return
    # The second rate: half of (a) as the issue's own load tool reaches it (`magnetar-perf`, on
    # libmagnetar: the issue names it for Magnetar's side), where the raw client's (a) above is more
    # than fio's single sequential job writes durably on this disk, so the disk queues. A quarter
    # of the raw client's (a) when magnetar-perf did not run. Three runs, each against the issue's
    # fio job run just before it.
    rate2 = R["mg_perf"]["msgs_per_s"] / 2 if "mg_perf" in R else rate / 2
    R["mg_latq_basis"] = "perf" if "mg_perf" in R else "quarter"
    quarter = []
    for i in range(3):
        settle()
        f1 = fio("fio_seq_bq%d" % i, size="512M") if have("fio") else None
        wait_quiet_disk()
        r = paced_run("mg_latq%d" % i, run_name("mg_bq", i), rate2, warmup=WARMUP_Q)
        quarter.append((r["pub_p99_ms"], i, r, f1))
    R["mg_latq_runs"] = [dict(p99=x[0], fio_seq_p99=x[3]["p99"] if x[3] else None) for x in quarter]
    R["mg_latq"] = median_run(quarter, "mg_bq")[2]


def magnetar_c():
    """C_RUNS runs, each right after iperf3 (this VM's CPU share drifts within minutes, like its
    disk), each on a fresh broker. The run with the median ratio to the iperf3 figure just before
    it is reported; all pairs are listed."""
    runs = []
    for i in range(1 if Q else C_RUNS):
        if i:
            settle()
        ip = iperf3("iperf3_c%d" % i) if have("iperf3") else None
        m = Magnetar("mg_fanout%d" % i)
        try:
            r = load(m.port, run_name("mg_c", i),
                     MG_ARGS + ["-k", "4", "-n", str(N_FANOUT), "--topic", "persistent://public/default/fan"])
        finally:
            m.stop()
        runs.append((r["deliver_MB_per_s"] / ip if ip else r["deliver_MB_per_s"], i, r, ip))
    R["mg_fanout_runs"] = [(x[2]["deliver_MB_per_s"], x[3]) for x in runs]
    _, _, R["mg_fanout"], R["fanout_paired_iperf3"] = median_run(runs, "mg_c")


def magnetar_d():
    # prefill without fsync (the read is what is measured), then read the backlog
    m = Magnetar("mg_catchup", sync=False, extra="managedLedgerCacheSizeMB=64\n")
    try:
        R["mg_catchup"] = load(m.port, "mg_d", MG_ARGS + ["-k", "1", "--catchup", "-n", str(N_CATCHUP),
                                                          "--topic", "persistent://public/default/cu"], 600)
    finally:
        m.stop()


def magnetar_e():
    m = Magnetar("mg_idle")
    try:
        time.sleep(0.3)
        before = rss_kb(m.p.pid)
        anon0, file0 = rss_kb(m.p.pid, "RssAnon"), rss_kb(m.p.pid, "RssFile")
        p = subprocess.Popen([LOAD, "--port", str(m.port), "--idle", str(N_IDLE), "--hold", "600", "--timeout", "400"],
                             stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        if "idle_topics" not in line:
            raise RuntimeError("idle producers failed")
        time.sleep(1.0)
        after = rss_kb(m.p.pid)
        anon1, file1 = rss_kb(m.p.pid, "RssAnon"), rss_kb(m.p.pid, "RssFile")
        fds = len(os.listdir("/proc/%d/fd" % m.p.pid))
        p.kill()
        p.wait()
        R["mg_idle"] = dict(kv(line), rss_before_kb=before, rss_after_kb=after,
                            kb_per_topic=(after - before) / N_IDLE,
                            anon_kb_per_topic=(anon1 - anon0) / N_IDLE, file_kb_per_topic=(file1 - file0) / N_IDLE,
                            open_fds=fds)
    finally:
        m.stop()


def magnetar_f():
    runs = []
    admin = os.path.join(BIN, "magnetar-admin")
    manifest = os.path.join(SRC, "..", "examples", "hexabuilders", "hexabuilders.yaml")
    applied = False
    for i in range(3 if Q else 7):
        m = Magnetar("mg_start%d" % i)
        try:
            s = socket.create_connection(("127.0.0.1", m.port))
            s.close()
            first = (time.perf_counter() - m.t0) * 1000
            if os.path.exists(admin) and os.path.exists(manifest):
                r = subprocess.run([admin, "--admin-url", "http://127.0.0.1:%d" % m.web, "apply", "-f", manifest],
                                   capture_output=True, text=True, timeout=60)
                applied = r.returncode == 0
                if not applied and i == 0:
                    NOTES.append("(f) magnetar-admin apply failed: " + (r.stderr or r.stdout)[-200:].replace("\n", " "))
        finally:
            m.stop()
        m2 = Magnetar("mg_start%d" % i)  # restart on the same data dir (manifest applied)
        try:
            s = socket.create_connection(("127.0.0.1", m2.port))
            s.close()
            restart = (time.perf_counter() - m2.t0) * 1000
            time.sleep(0.5)
            rss = rss_kb(m2.p.pid)
        finally:
            m2.stop()
        runs.append((first, restart, rss))
    runs.sort(key=lambda r: r[1])
    mid = runs[len(runs) // 2]
    R["mg_start"] = {"first_ms": mid[0], "restart_ms": mid[1], "idle_rss_kb": mid[2], "manifest": applied}
    if not applied:
        NOTES.append("(f) HexaBuilders manifest not applied (magnetar-admin or "
                     "examples/hexabuilders/hexabuilders.yaml missing or failing): start-up and RSS of an empty standalone")


def heap_calls(path):
    """Calls to malloc, calloc and realloc in a callgrind output file (names are compressed:
    "(id) name" the first time, "(id)" after)."""
    names, total, cur = {}, 0, None
    with open(path) as f:
        for line in f:
            if line.startswith(("cfn=", "fn=")):
                m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line.strip())
                if m:
                    if m.group(2):
                        names[m.group(1)] = m.group(2)
                    if line.startswith("cfn="):
                        cur = names.get(m.group(1), "")
            elif line.startswith("calls=") and cur is not None:
                if cur in ("malloc", "calloc", "realloc"):
                    total += int(line.split("=", 1)[1].split()[0])
                cur = None
    return total


def magnetar_g():
    if Q:  # the smoke run may use a sanitizer build, which valgrind cannot run
        NOTES.append("(g) skipped in QUICK mode")
        return
    if not have("valgrind"):
        NOTES.append("(g) valgrind not installed: instructions/message not measured")
        return
    # perf stat -e instructions is 'not supported' in this VM: count with callgrind, a run with N
    # messages minus a run with none (start-up, shutdown), divided by N
    n = 200_000 if not Q else 5_000
    res = {}
    for label, count in (("idle", 0), ("load", n)):
        out = os.path.join(WORK, "cg.%s.out" % label)
        m = Magnetar("mg_cg_" + label, wrapper=["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out])
        try:
            if count:
                load(m.port, "mg_g", MG_ARGS + ["-n", str(count), "--topic", "persistent://public/default/g"], 600)
            else:
                time.sleep(1)
        finally:
            m.stop()
        with open(out) as f:
            tot = [l for l in f if l.startswith("summary:") or l.startswith("totals:")]
        res[label] = int(tot[-1].split()[1])
        res[label + "_heap"] = heap_calls(out)
        if label == "load":
            shutil.copy(out, os.path.join(RAW, "callgrind.magnetar.out"))
    R["mg_instr"] = {"per_msg": (res["load"] - res["idle"]) / n, "per_entry": (res["load"] - res["idle"]) / (n / BATCH),
                     "messages": n, "heap_per_entry": (res["load_heap"] - res["idle_heap"]) / (n / BATCH)}
    if have("callgrind_annotate"):
        p = subprocess.run(["callgrind_annotate", "--inclusive=no", os.path.join(RAW, "callgrind.magnetar.out")],
                           capture_output=True, text=True)
        with open(os.path.join(RAW, "callgrind.magnetar.txt"), "w") as f:
            f.write(p.stdout[:20000])
        os.unlink(os.path.join(RAW, "callgrind.magnetar.out"))


# ---------------------------------------------------------------- peers
def redis_all():
    if not have("redis-server"):
        NOTES.append("Redis Streams: redis-server not installed, skipped")
        return

    def server(name):
        d = os.path.join(WORK, name)
        os.makedirs(d)
        port = free_port()
        p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes",
                              "--appendfsync", "always", "--save", "", "--dir", d, "--daemonize", "no"],
                             stdout=open(os.path.join(d, "log"), "w"), stderr=subprocess.STDOUT)
        wait_port(port, p)
        return p, port

    for key, conns, n, w in (("redis_1", 1, N_REDIS1, 256), ("redis_8", 8, N_REDIS8, 64)):
        p, port = server(key)
        try:
            R[key] = peer("redis", port, key + "_a", ["-c", str(conns), "-w", str(w), "-n", str(n)])
        finally:
            stop(p)
    best = max(R["redis_1"], R["redis_8"], key=lambda r: r["msgs_per_s"])
    rate = best["msgs_per_s"] / 2
    p, port = server("redis_lat")
    try:
        R["redis_lat"] = peer("redis", port, "redis_b", RT + ["-c", "8", "-w", "64", "-r", "%.0f" % rate,
                                                         "-n", "%d" % (rate * (WARMUP + LAT_SECONDS)),
                                                         "--warmup", str(WARMUP)])
    finally:
        stop(p)


def nats_all():
    if not have("nats-server"):
        NOTES.append("NATS JetStream: nats-server not installed, skipped")
        return
    ver = subprocess.run(["nats-server", "--version"], capture_output=True, text=True).stdout.strip()
    R["nats_version"] = ver

    def server(name):
        d = os.path.join(WORK, name)
        os.makedirs(d)
        port = free_port()
        for sync in ("always", None):
            conf = os.path.join(d, "nats.conf")
            with open(conf, "w") as f:
                f.write('listen: 127.0.0.1:%d\njetstream { store_dir: "%s"%s }\n'
                        % (port, os.path.join(d, "js"), ", sync_interval: always" if sync else ""))
            p = subprocess.Popen(["nats-server", "-c", conf], stdout=open(os.path.join(d, "log"), "w"),
                                 stderr=subprocess.STDOUT)
            try:
                wait_port(port, p, 5)
                R["nats_sync"] = ("sync_interval: always" if sync else
                                  "default (sync_interval unknown to %s: the file store acks before fsync, "
                                  "syncing periodically)" % ver)
                return p, port
            except RuntimeError:
                stop(p)
        raise RuntimeError("nats-server did not start")

    for key, conns in (("nats_1", 1), ("nats_4", 4)):
        p, port = server(key)
        try:
            R[key] = peer("nats", port, key + "_a", ["-c", str(conns), "-w", "256", "-n", str(N_NATS)])
        finally:
            stop(p)
    best = max(R["nats_1"], R["nats_4"], key=lambda r: r["msgs_per_s"])
    rate = best["msgs_per_s"] / 2
    p, port = server("nats_lat")
    try:
        R["nats_lat"] = peer("nats", port, "nats_b", RT + ["-c", "4", "-w", "256", "-r", "%.0f" % rate,
                                                      "-n", "%d" % (rate * (WARMUP + LAT_SECONDS)),
                                                      "--warmup", str(WARMUP)])
    finally:
        stop(p)


# ---------------------------------------------------------------- report
def g(key, field, fmt="%.0f"):
    v = R.get(key, {}).get(field) if isinstance(R.get(key), dict) else None
    return fmt % v if v is not None else "n/a"


def ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "n/a"


def fig(key, field):
    v = R.get(key)
    return v.get(field) if isinstance(v, dict) else None


def verdict(ok):
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def plots():
    if not have("gnuplot"):
        NOTES.append("gnuplot not installed: no PNG plots")
        return []
    made = []
    series = [(n, t) for n, t in (("mg_durable_a", "Magnetar fsync"), ("mg_pagecache_a", "Magnetar page cache"),
                                  ("redis_1_a", "Redis appendfsync always, 1 conn"),
                                  ("redis_8_a", "Redis appendfsync always, 8 conns"),
                                  ("nats_1_a", "NATS JetStream, 1 conn"), ("nats_4_a", "NATS JetStream, 4 conns"))
              if os.path.exists(os.path.join(RAW, n + ".series"))]
    lats = [(n, t) for n, t in (("mg_b", "Magnetar publish"), ("redis_b", "Redis publish"),
                                ("nats_b", "NATS publish")) if os.path.exists(os.path.join(RAW, n + ".lat"))]
    prefix = "%s-%s" % (STAMP, HOST)
    gp = os.path.join(WORK, "plots.gp")
    with open(gp, "w") as f:
        f.write("set terminal pngcairo size 1000,560 noenhanced\nset grid\nset key outside bottom center horizontal\n")
        if series:
            f.write('set output "%s"\n' % os.path.join(args.out, prefix + "-throughput.png"))
            f.write('set title "(a) acknowledged msgs/s over time (1 KB messages)"\n'
                    'set xlabel "seconds"\nset ylabel "msgs/s"\nset format y "%.0s%c"\n')
            f.write("plot " + ", ".join('"%s" using 1:2 with lines lw 2 title "%s"' % (os.path.join(RAW, n + ".series"), t)
                                        for n, t in series) + "\n")
        if lats:
            f.write('set output "%s"\n' % os.path.join(args.out, prefix + "-latency.png"))
            f.write('set title "(b) latency percentiles at half of each system\'s max rate"\n'
                    'set xlabel "percentile"\nset ylabel "ms"\nset logscale xy\nset format y "%g"\n'
                    'set xtics ("50" 2, "90" 10, "99" 100, "99.9" 1000, "99.99" 10000)\n')
            parts = ['"%s" using (1/(1-$1/100)):2 with linespoints lw 2 title "%s"' % (os.path.join(RAW, n + ".lat"), t)
                     for n, t in lats]
            if os.path.exists(os.path.join(RAW, "mg_b.lat")):
                parts.append('"%s" using (1/(1-$1/100)):3 with linespoints lw 2 title "Magnetar end-to-end"'
                             % os.path.join(RAW, "mg_b.lat"))
            if os.path.exists(os.path.join(RAW, "disk_paced_b.lat")):
                parts.append('"%s" using (1/(1-$1/100)):2 with linespoints lw 2 dt 3 lc rgb "#444444" title "disk alone, same pattern (disk_paced)"'
                             % os.path.join(RAW, "disk_paced_b.lat"))
            if "fio_sync_p99_ms" in R:
                parts.append("%f with lines dt 2 title \"fio fdatasync p99 + 0.5 ms\"" % (R["fio_sync_p99_ms"] + 0.5))
            f.write("plot " + ", ".join(parts) + "\n")
    subprocess.run(["gnuplot", gp], check=False)
    for s in ("-throughput.png", "-latency.png"):
        if os.path.exists(os.path.join(args.out, prefix + s)):
            made.append(prefix + s)
    return made


def report(pngs):
    RATE2_LABEL = ("(b) at half of (a) through `magnetar-perf` (the issue's load tool)"
                   if R.get("mg_latq_basis") == "perf" else "(b) quarter rate (not the issue's rate)")
    mgd, mgp = fig("mg_durable", "msgs_per_s"), fig("mg_pagecache", "msgs_per_s")
    r1, r8 = fig("redis_1", "msgs_per_s"), fig("redis_8", "msgs_per_s")
    rbest = max([x for x in (r1, r8) if x] or [0]) or None
    n1, n4 = fig("nats_1", "msgs_per_s"), fig("nats_4", "msgs_per_s")
    nbest = max([x for x in (n1, n4) if x] or [0]) or None
    fio = R.get("fio_MBps")
    mgd_mb = fig("mg_durable", "MB_per_s")
    fsync99 = R.get("fio_sync_p99_ms")
    p99 = fig("mg_lat", "pub_p99_ms")
    fan = fig("mg_fanout", "deliver_MB_per_s")
    ip_all = [R["iperf3_MBps"]] if R.get("iperf3_MBps") else []
    ip_all += [x[1] for x in R.get("mg_fanout_runs", []) if x[1]]
    ip = max(ip_all or [0]) or None
    ipp = R.get("fanout_paired_iperf3")
    fb = R.get("fio_b")
    fb99 = fb["p99"] if fb else None
    db = R.get("disk_b")
    db99 = db["resp_p99_ms"] if db else None
    kbt = fig("mg_idle", "kb_per_topic")
    st = R.get("mg_start", {})
    L = []
    w = L.append
    w("# Magnetar side-by-side benchmark: %s on %s%s\n" % (STAMP, HOST, " (QUICK smoke run: figures meaningless)" if Q else ""))
    w("Generated by `make bench` (bench/run.py) in %.0f s. Machine: %d CPUs, %s, kernel %s, TCP "
      "congestion control `%s` (iperf3 and every system alike). "
      "Everything on 127.0.0.1, one system at a time, 1 KiB messages, 4 partitions/streams/keys.\n"
      % (time.time() - T_START, os.cpu_count(), cpu_model(), os.uname().release, tcp_cc()))
    w("Durability: Magnetar `journalSyncData=true` (fdatasync before SEND_RECEIPT); Redis %s "
      "`appendonly yes, appendfsync always`; NATS %s JetStream file storage, %s. "
      "Magnetar load: raw-protocol client `mg_bench_load` (batches of %d messages per entry, 16 entries "
      "in flight per partition, one connection; consumers on a second thread, every checksum verified), and for (a) "
      "also `magnetar-perf`, the product's pulsar-perf-like tool on libmagnetar (the raw client is lighter on "
      "these 2 shared cores: it builds each batch once and has no per-message callbacks); peers: `peer_bench` (plain C, RESP / NATS text "
      "protocol, no batching exists in either protocol, 256 or 64 messages in flight per connection).\n"
      % (tool_version(["redis-server", "--version"]), R.get("nats_version", ""), R.get("nats_sync", "n/a"), BATCH))
    w("## Figures\n")
    w("| workload | system | msgs/s | MB/s | p50 ms | p99 ms | p99.9 ms |")
    w("|---|---|---:|---:|---:|---:|---:|")
    rows = [("(a) max produce", "Magnetar, fsync before ack", "mg_durable", "pub"),
            ("(a) max produce", "Magnetar via `magnetar-perf` (libmagnetar; 4 partitions, batches of up to %d, "
                                "10,000 pending), fsync before ack" % BATCH, "mg_perf", "pub"),
            ("(a) max produce", "Magnetar, page cache (journalSyncData=false)", "mg_pagecache", "pub"),
            ("(a) max produce", "Redis XADD, appendfsync always, 1 conn", "redis_1", "pub"),
            ("(a) max produce", "Redis XADD, appendfsync always, 8 conns", "redis_8", "pub"),
            ("(a) max produce", "NATS JetStream publish+ack, 1 conn", "nats_1", "pub"),
            ("(a) max produce", "NATS JetStream publish+ack, 4 conns", "nats_4", "pub"),
            ("(b) half rate, publish", "Magnetar (fsync)", "mg_lat", "pub"),
            ("(b) half rate, end-to-end", "Magnetar (fsync)", "mg_lat", "e2e"),
            (RATE2_LABEL + ", publish", "Magnetar (fsync)", "mg_latq", "pub"),
            ("(b) half rate, publish", "Redis (8 conns)", "redis_lat", "pub"),
            ("(b) half rate, publish", "NATS (4 conns)", "nats_lat", "pub")]
    for wl, sysname, key, kind in rows:
        if key not in R:
            continue
        if kind == "pub":
            w("| %s | %s | %s | %s | %s | %s | %s |" % (wl, sysname, g(key, "msgs_per_s"), g(key, "MB_per_s", "%.1f"),
                                                        g(key, "pub_p50_ms", "%.2f"), g(key, "pub_p99_ms", "%.2f"),
                                                        g(key, "pub_p999_ms", "%.2f")))
        else:
            w("| %s | %s | %s | %s | %s | %s | %s |" % (wl, sysname, g(key, "deliver_msgs_per_s"),
                                                        g(key, "deliver_MB_per_s", "%.1f"), g(key, "e2e_p50_ms", "%.2f"),
                                                        g(key, "e2e_p99_ms", "%.2f"), g(key, "e2e_p999_ms", "%.2f")))
    if "mg_fanout" in R:
        w("| (c) fan-out 1 -> 4 subscriptions, delivered | Magnetar (fsync) | %s | %s | %s | %s | %s |"
          % (g("mg_fanout", "deliver_msgs_per_s"), g("mg_fanout", "deliver_MB_per_s", "%.1f"),
             g("mg_fanout", "e2e_p50_ms", "%.2f"), g("mg_fanout", "e2e_p99_ms", "%.2f"), g("mg_fanout", "e2e_p999_ms", "%.2f")))
    if "mg_catchup" in R:
        w("| (d) catch-up read of %.2f GiB backlog | Magnetar | %s | %s | | | |"
          % (N_CATCHUP * SIZE / 2**30, g("mg_catchup", "deliver_msgs_per_s"), g("mg_catchup", "deliver_MB_per_s", "%.1f")))
    if "fio_MBps" in R:
        w("| limit: fio seq write + fdatasync, bs=%d B | disk | | %.1f | %.3f | %.3f | %.3f |"
          % (ENTRY_BYTES, fio, R["fio_sync_p50_ms"], fsync99, R["fio_sync_p999_ms"]))
    if fb:
        w("| limit: fio as (b) writes: 4 files in parallel, %.0f entries/s each, fdatasync after each | disk | | %.1f | %.3f | %.3f | %.3f |"
          % (R["mg_durable"]["msgs_per_s"] / 2 / BATCH / 4, fb["MBps"], fb["p50"], fb["p99"], fb["p999"]))
    if db:
        w("| limit: `disk_paced`, the disk alone as (b) writes: 4 files, %.0f entries/s each due, group commit per file, response time from the due time | disk | | %.1f | %.3f | %.3f | %.3f |"
          % (db["rate_per_file"], db["MB_per_s"], db["resp_p50_ms"], db["resp_p99_ms"], db["resp_p999_ms"]))
    if ip:
        w("| limit: iperf3 loopback, 1 stream (largest of %d runs: %s) | network | | %.0f | | | |"
          % (len(ip_all), ", ".join("%.0f" % x for x in ip_all), ip))
    w("")
    if "mg_idle" in R:
        i = R["mg_idle"]
        w("(e) %d idle topics with a producer each: broker RSS %d KB -> %d KB, **%.2f KB per topic** "
          "(set-up %.2f s): %.2f KB anonymous memory + %.2f KB file-backed pages (LMDB map, binary) per "
          "topic; %d open fds.\n" % (N_IDLE, i["rss_before_kb"], i["rss_after_kb"], kbt, i["setup_seconds"],
                                      i["anon_kb_per_topic"], i["file_kb_per_topic"], i["open_fds"]))
    if st:
        w("(f) start-up to accepting connections (median of %d): first start %.1f ms, restart on the same data "
          "dir %.1f ms; idle RSS %.1f MB; HexaBuilders manifest applied: %s.\n"
          % (3 if Q else 7, st["first_ms"], st["restart_ms"], st["idle_rss_kb"] / 1024, "yes" if st["manifest"] else "no"))
    if "mg_instr" in R:
        gi = R["mg_instr"]
        w("(g) CPU cost (callgrind, broker process, all threads; run of %d msgs minus an idle run): "
          "**%.0f instructions per message**, %.0f per entry of %d messages; %.2f heap allocations "
          "(malloc, calloc, realloc calls) per entry. "
          "(`perf stat -e instructions` reports `<not supported>` in this VM.) Top functions: "
          "`raw/callgrind.magnetar.txt`.\n" % (gi["messages"], gi["per_msg"], gi["per_entry"], BATCH,
                                               gi.get("heap_per_entry", float("nan"))))
    w("## Ratios and targets\n")
    w("| target | measured | ratio | status |")
    w("|---|---|---:|---|")
    w("| (a) durable Magnetar >= 2x Redis Streams (best of 1/8 conns) | %s vs %s msgs/s | %s | %s |"
      % (g("mg_durable", "msgs_per_s"), "%.0f" % rbest if rbest else "n/a", ratio(mgd, rbest),
         verdict(None if not (mgd and rbest) else mgd >= 2 * rbest)))
    mgperf = fig("mg_perf", "msgs_per_s")
    if mgperf:
        w("| (a) the same through `magnetar-perf` (libmagnetar) >= 2x Redis Streams | %s vs %s msgs/s | %s | %s |"
          % (g("mg_perf", "msgs_per_s"), "%.0f" % rbest if rbest else "n/a", ratio(mgperf, rbest),
             verdict(None if not rbest else mgperf >= 2 * rbest)))
    w("| (a) durable Magnetar >= 70%% of fio fdatasync bandwidth | %s vs %s MB/s | %s | %s |"
      % (g("mg_durable", "MB_per_s", "%.1f"), "%.1f" % fio if fio else "n/a", ratio(mgd_mb, fio),
         verdict(None if not (mgd_mb and fio) else mgd_mb >= 0.7 * fio)))
    w("| (a) page-cache Magnetar >= 2x NATS JetStream (best of 1/4 conns) | %s vs %s msgs/s | %s | %s |"
      % (g("mg_pagecache", "msgs_per_s"), "%.0f" % nbest if nbest else "n/a", ratio(mgp, nbest),
         verdict(None if not (mgp and nbest) else mgp >= 2 * nbest)))
    w("| (b) p99 publish <= fio fdatasync p99 + 0.5 ms | %s ms vs %s ms | %s | %s |"
      % (g("mg_lat", "pub_p99_ms", "%.2f"), "%.2f" % (fsync99 + 0.5) if fsync99 else "n/a",
         ratio(p99, fsync99 + 0.5 if fsync99 else None), verdict(None if not (p99 and fsync99) else p99 <= fsync99 + 0.5)))
    def per_run_row(label, runs):
        """A row judging each run against the issue's fio job run just before it."""
        runs = [x for x in runs if x.get("fio_seq_p99")]
        if runs:
            met = sum(1 for x in runs if x["p99"] <= x["fio_seq_p99"] + 0.5)
            w("| %s | %s | | met in %d of %d runs |"
              % (label, ", ".join("%.2f vs %.2f" % (x["p99"], x["fio_seq_p99"] + 0.5) for x in runs), met, len(runs)))

    per_run_row("(b) each run against the issue's fio job run just before it (p99 publish <= its fdatasync p99 + 0.5 ms)",
                R.get("mg_lat_runs", []))
    per_run_row("%s (%s msgs/s), each run against the issue's fio job run just before it"
                % (RATE2_LABEL, g("mg_latq", "msgs_per_s")), R.get("mg_latq_runs", []))
    if fb99:
        w("| (b) p99 publish <= p99 fdatasync of fio writing the same pattern + 0.5 ms | %s ms vs %s ms | %s | %s |"
          % (g("mg_lat", "pub_p99_ms", "%.2f"), "%.2f" % (fb99 + 0.5), ratio(p99, fb99 + 0.5),
             verdict(None if not p99 else p99 <= fb99 + 0.5)))
    if db99:
        w("| (b), like for like (not the issue's wording): p99 publish <= p99 response time of the disk alone at the same pattern (`disk_paced`) + 0.5 ms | %s ms vs %s ms | %s | %s |"
          % (g("mg_lat", "pub_p99_ms", "%.2f"), "%.2f" % (db99 + 0.5), ratio(p99, db99 + 0.5),
             verdict(None if not p99 else p99 <= db99 + 0.5)))
    w("| (c) fan-out dispatch >= 50%% of iperf3 loopback | %s vs %s MB/s | %s | %s |"
      % (g("mg_fanout", "deliver_MB_per_s", "%.1f"), "%.0f" % ip if ip else "n/a", ratio(fan, ip),
         verdict(None if not (fan and ip) else fan >= 0.5 * ip)))
    if ipp:
        w("| (c) fan-out dispatch >= 50%% of iperf3 run just before it (median of the paired runs) | %s vs %.0f MB/s | %s | %s |"
          % (g("mg_fanout", "deliver_MB_per_s", "%.1f"), ipp, ratio(fan, ipp),
             verdict(None if not fan else fan >= 0.5 * ipp)))
    w("| (e) <= 4 KB RSS per idle topic | %s KB | | %s |" % (g("mg_idle", "kb_per_topic", "%.2f"),
                                                           verdict(None if kbt is None else kbt <= 4)))
    if st:
        w("| (f) start <= 50 ms | %.1f ms (first), %.1f ms (restart) | | %s |"
          % (st["first_ms"], st["restart_ms"], verdict(max(st["first_ms"], st["restart_ms"]) <= 50)))
        w("| (f) idle RSS <= 16 MB | %.1f MB | | %s |" % (st["idle_rss_kb"] / 1024, verdict(st["idle_rss_kb"] <= 16384)))
    w("")
    for p in pngs:
        w("![%s](%s)\n" % (p, p))
    w("(b) pacing: every load generator sends on a schedule (latency counted from the scheduled time) "
      "with 1 µs timer slack%s.\n" % (", and its sending thread runs SCHED_FIFO so that on these 2 cores, "
                                      "shared with the server, its own wake-up delays are not counted as the "
                                      "server's latency (`--rt`)" if RT else " (not root: no real-time priority)"))
    w("(b) what is compared: fio reports each fdatasync's own duration (service time; a paced fio job that falls "
      "behind does not count how late it is); the load generators count every message from its scheduled send "
      "time (response time, the wait for the disk included, once per message waiting). `disk_paced` "
      "(bench/disk_paced.c) measures the disk alone the second way: it writes (b)'s pattern with nothing but "
      "`pwritev` + `fdatasync` per file, the files taking turns as the load generator's partitions do, each entry counted from its due time, in %d MB segments written over "
      "as Magnetar's store writes them in its steady state (`--seg %d --recycle`), so the gap between it and "
      "Magnetar is what the broker adds (network, protocol, checksums, dispatch to the subscription).\n"
      % (SEG_MB, SEG_MB))
    w("(b) warm-up: every system runs %g s at the rate before latencies count (%g s in the runs at the second rate), "
      "then %d s measured. That is two segment rolls per partition: a new store appends to new files, and "
      "from the third segment on writes over the files of segments its subscription has consumed "
      "(storageRecycledSegmentsMax), the state of a broker that has run for a while; an fdatasync of "
      "records written over allocated blocks writes no file-system metadata. OpenMessaging "
      "Benchmark warms up likewise (a minute).\n" % (WARMUP, WARMUP_Q, LAT_SECONDS))
    if R.get("mg_lat_runs"):
        w("(b) runs (Magnetar p99 publish / just before it: the issue's fio job (1 file, sequential, unpaced) p99 "
          "fdatasync / on the same disk at the same pattern: fio p99 fdatasync / `disk_paced` p99 response, ms): "
          "%s; the median run is reported.\n"
          % ", ".join("%.2f / %s / %s / %s" % (x["p99"], "%.2f" % x["fio_seq_p99"] if x.get("fio_seq_p99") else "n/a",
                                              "%.2f" % x["fio_p99"] if x["fio_p99"] else "n/a",
                                              "%.2f" % x["disk_p99"] if x.get("disk_p99") else "n/a")
                      for x in R["mg_lat_runs"]))
    names = ("<= 0.5 ms", "0.5-1 ms", "1-5 ms", "5-10 ms", "10-20 ms", "20-50 ms", "50-100 ms", "100-200 ms",
             "200 ms-1 s", "> 1 s")

    def lat_profile(sl):
        tot = sum(sl.values())
        return ("%s of %d entries; over 1 ms: %.2f%% of entries, over 5 ms: %.2f%%"
                % (", ".join("%s %.2f%%" % (n, 100.0 * sl[b] / tot) for n, b in zip(names, LAT_BUCKETS) if sl[b]),
                   tot, 100.0 * (tot - sl["le_0_5"] - sl["le_1"]) / tot,
                   100.0 * (tot - sl["le_0_5"] - sl["le_1"] - sl["le_5"]) / tot))
    sl = (R.get("mg_lat") or {}).get("storage_lat")
    jl = (R.get("mg_lat") or {}).get("journal_lat")
    if sl:
        w("(b) profile of the reported run, from the broker's own histograms (warm-up included; a publish p99 "
          "above a bound needs more than 1%% of entries above it). `pulsar_storage_write_latency_*`, each entry "
          "from its SEND read to its completion on the event loop (the storage queue, `pwritev`, `fdatasync` "
          "and the hand-back): %s.%s\n"
          % (lat_profile(sl), (" `pulsar_storage_ledger_write_latency_*`, the journal write alone (a storage "
                               "worker's `pwritev` and the `fdatasync` covering it, what the disk takes): %s."
                               % lat_profile(jl)) if jl else ""))
    if R.get("mg_fanout_runs"):
        w("(c) runs (Magnetar MB/s delivered / iperf3 MB/s just before): %s; the run with the median ratio is "
          "reported.\n" % ", ".join("%.0f / %s" % (f, "%.0f" % i if i else "n/a") for f, i in R["mg_fanout_runs"]))
    if NOTES:
        w("## Notes\n")
        for n in NOTES:
            w("- " + n)
        w("")
    w("Raw outputs (command lines, per-100 ms series, percentile tables): `raw/`.\n")
    path = os.path.join(args.out, "%s-%s.md" % (STAMP, HOST))
    with open(path, "w") as f:
        f.write("\n".join(L))
    with open(os.path.join(RAW, "figures.json"), "w") as f:
        json.dump(R, f, indent=1)
    log("wrote", path)
    return path


def cpu_model():
    try:
        for l in open("/proc/cpuinfo"):
            if l.startswith("model name"):
                return l.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def tool_version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
        m = re.search(r"v=(\S+)", out) or re.search(r"(\d+\.\d+\.\d+)", out)
        return m.group(1) if m else ""
    except OSError:
        return ""


try:
    section("limits", limits)
    section("(a) Magnetar", magnetar_a)
    section("(b) Magnetar", magnetar_b)
    section("(c) Magnetar", magnetar_c)
    section("(d) Magnetar", magnetar_d)
    section("(e) Magnetar", magnetar_e)
    section("(f) Magnetar", magnetar_f)
    section("(g) Magnetar", magnetar_g)
    section("Redis", redis_all)
    section("NATS", nats_all)
    NOTES.append("Not run against the peers: (c) fan-out, (d) catch-up, (e) idle topics, (f) start-up, (g) "
                 "instructions/message: only Magnetar's figures, compared with the limits and targets.")
    report(plots())
finally:
    shutil.rmtree(WORK, ignore_errors=True)
fails = [n for n in NOTES if ": failed:" in n]
if fails:
    print("\n".join(fails), file=sys.stderr)
    sys.exit(1)
