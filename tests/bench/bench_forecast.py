#!/usr/bin/env python3
"""How good is the drain forecast? (issue 17: a benchmark figure, not a test)

Starts its own redis-server, `sluice sandbox` (this team's real limits: 10/s, 600/min) and
`sluice serve --single`, all on free loopback ports in a temporary directory. Puts N Close
leads in the sandbox's Close, fires N lead-less Close webhooks at once (as Close sends them:
serve looks each lead up), then polls serve's /healthz forecast and the sandbox's lead count
every 200 ms until every lead is in Instantly. At 25 %, 50 % and 75 % of the leads delivered it
takes the forecast's expected time of the last lead and, at the end, compares it with when the
last lead really arrived. Prints a table; the error is also given as a share of the time that
was still left, which is what an operator reads the forecast for.

    tests/bench/bench_forecast.py [--sluice build/release/app/sluice] [--leads 600]
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    payload = r.read()
    conn.close()
    return r.status, (json.loads(payload) if payload else None)


def wait_for(what, check, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"bench_forecast: {what} did not come up within {seconds} s")


def webhook(i, campaign):
    return {"subscription_id": "sub_bench",
            "event": {"id": f"ev_{i}", "object_type": "task.lead", "action": "created",
                      "lead_id": f"lead_{i}", "object_id": f"task_{i}",
                      "data": {"text": f"Instantly: {campaign}", "lead_id": f"lead_{i}"}}}


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sluice", default=os.path.join(root, "build/release/app/sluice"))
    p.add_argument("--leads", type=int, default=600)
    a = p.parse_args()
    if not os.access(a.sluice, os.X_OK):
        sys.exit(f"bench_forecast: no sluice binary at {a.sluice} (cmake --preset release && "
                 "cmake --build --preset release, or give --sluice)")
    if not shutil.which("redis-server"):
        sys.exit("bench_forecast: redis-server is not installed (scripts/setup.sh installs it)")

    tmp = tempfile.mkdtemp(prefix="sluice-forecast-")
    procs = []

    def stop_all():
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    try:
        redis_port, sandbox_port, serve_port = free_port(), free_port(), free_port()
        procs.append(subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", tmp,
             "--save", "", "--appendonly", "yes"],
            stdout=open(os.path.join(tmp, "redis.log"), "w"), stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(
            [a.sluice, "sandbox", "--port", str(sandbox_port), "--quiet"],
            stdout=open(os.path.join(tmp, "sandbox.log"), "w"), stderr=subprocess.STDOUT))
        auth = {"Authorization": "Bearer sandbox"}
        wait_for("the sandbox",
                 lambda: request(sandbox_port, "GET", "/_sandbox/stats", headers=auth)[0] == 200)
        env = dict(os.environ, INSTANTLY_API_KEY="sandbox", CLOSE_API_KEY="sandbox")
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        procs.append(subprocess.Popen(
            [a.sluice, "serve", "--single", "--listen", f"127.0.0.1:{serve_port}",
             "--redis", f"redis://127.0.0.1:{redis_port}/0", "--instantly-url", sandbox_url,
             "--close-url", sandbox_url, "--data-dir", os.path.join(tmp, "data")],
            env=env, stdout=open(os.path.join(tmp, "serve.log"), "w"), stderr=subprocess.STDOUT))
        wait_for("sluice serve", lambda: request(serve_port, "GET", "/healthz")[0] == 200)

        campaign = "Forecast Bench"
        schedule = {"schedules": [{"name": "Weekdays", "timing": {"from": "09:00", "to": "17:00"},
                                   "days": {d: True for d in "12345"},
                                   "timezone": "America/Chicago"}]}
        status, _ = request(sandbox_port, "POST", "/api/v2/campaigns",
                            {"name": campaign, "campaign_schedule": schedule}, auth)
        assert status == 200, f"campaign not created: HTTP {status}"
        leads = [{"id": f"lead_{i}", "display_name": f"Company {i}",
                  "contacts": [{"name": f"Lead {i}",
                                "emails": [{"email": f"lead{i}@example.com"}]}]}
                 for i in range(a.leads)]
        status, _ = request(sandbox_port, "POST", "/_sandbox/close/leads", leads, auth)
        assert status == 200, f"Close leads not seeded: HTTP {status}"

        # Fire every webhook at once, 10 connections, as a Close burst would.
        def fire(part):
            conn = http.client.HTTPConnection("127.0.0.1", serve_port, timeout=30)
            for i in part:
                conn.request("POST", "/instantly/add_lead", json.dumps(webhook(i, campaign)),
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                assert r.status == 202, f"webhook {i}: HTTP {r.status}"
            conn.close()
        threads = [threading.Thread(target=fire, args=(range(k, a.leads, 10),))
                   for k in range(10)]
        start = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        samples = []  # (time, delivered, forecast last lead, backlog, drain/s, measured)
        while True:
            _, stats = request(sandbox_port, "GET", "/_sandbox/stats", headers=auth)
            _, health = request(serve_port, "GET", "/healthz")
            now = time.time()
            f = health.get("forecast", {})
            last = f.get("last_lead_at")
            last_s = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp() if last else None
            samples.append((now, stats["leads"], last_s, f.get("backlog"),
                            f.get("drain_per_second"), f.get("drain_measured")))
            if stats["leads"] >= a.leads:
                break
            if now - start > 600:
                sys.exit("bench_forecast: not every lead arrived within 10 minutes")
            time.sleep(0.2)
        end = samples[-1][0]
        print(f"{a.leads} leads, single mode, 10/s and 600/min caps: the last lead arrived "
              f"{end - start:.1f} s after the burst began.\n")
        print("| delivered | at (s) | forecast last lead (s) | actual (s) | error (s) | "
              "error ÷ time left | drain/s | measured |")
        print("|---|---|---|---|---|---|---|---|")
        for share in (0.25, 0.5, 0.75):
            s = next(x for x in samples if x[1] >= share * a.leads)
            at, delivered, forecast, backlog, drain, measured = s
            if forecast is None:
                print(f"| {delivered} ({share:.0%}) | {at - start:.1f} | none | "
                      f"{end - start:.1f} | - | - | {drain} | {measured} |")
                continue
            err = forecast - end
            print(f"| {delivered} ({share:.0%}) | {at - start:.1f} | {forecast - start:.1f} | "
                  f"{end - start:.1f} | {err:+.1f} | {err / max(end - at, 0.001):+.0%} | "
                  f"{drain:.2f} | {measured} |")
    finally:
        stop_all()


if __name__ == "__main__":
    main()
