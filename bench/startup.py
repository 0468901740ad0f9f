#!/usr/bin/env python3
# Start-up time to accepting connections and idle RSS of `magnetar standalone`, 7 runs, median.
# usage: bench/startup.py build/bin/magnetar
import subprocess, time, socket, sys, os, tempfile
bin_ = sys.argv[1]
res = []
for i in range(7):
    d = tempfile.mkdtemp()
    t0 = time.perf_counter()
    p = subprocess.Popen([bin_, "standalone", "--data-dir", d, "--port", "0", "--web-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline().decode()
    port = int(line.split("brokerServicePort=")[1].split()[0])
    s = socket.create_connection(("127.0.0.1", port)); s.close()
    t1 = time.perf_counter()
    time.sleep(0.3)
    rss = [l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS")][0].split()[1]
    p.terminate(); p.wait()
    # second start on the existing data dir
    t2 = time.perf_counter()
    p = subprocess.Popen([bin_, "standalone", "--data-dir", d, "--port", "0", "--web-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline().decode()
    t3 = time.perf_counter()
    p.terminate(); p.wait()
    res.append(((t1-t0)*1000, (t3-t2)*1000, int(rss)))
res.sort()
print("first start to accepting (ms), restart (ms), idle RSS (KB):", res[len(res)//2])
print("all:", [(round(a,1), round(b,1), c) for a,b,c in res])
