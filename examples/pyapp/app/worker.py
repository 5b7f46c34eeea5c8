"""The worker: moves the visits the web service queues in Redis into
PostgreSQL, one row each. It reads /etc/pyapp/worker.ini again on SIGHUP
(develop.watch: sync+exec sends it to the PID in /tmp/worker.pid)."""
import configparser
import json
import os
import signal
import time

import psycopg2
import redis

import store


PIDFILE = "/tmp/worker.pid"
settings = {}


def load_config(*_):
    config = configparser.ConfigParser()
    config.read("/etc/pyapp/worker.ini")
    settings["label"] = config.get("worker", "label", fallback="a visit")
    print(f"worker: config loaded: label = {settings['label']}", flush=True)


def main():
    r = store.redis_client()
    conn = store.postgres()
    print("worker: ready", flush=True)
    while True:
        item = r.blpop("visits", timeout=2)
        if item is None:
            continue
        visit = json.loads(item[1])
        with conn.cursor() as cur:
            cur.execute("INSERT INTO visits (path, at) VALUES (%s, to_timestamp(%s))", (visit["path"], visit["at"]))
        print(f"worker: stored {settings['label']} of {visit['path']}", flush=True)


def stop(*_):
    raise SystemExit(0)


if __name__ == "__main__":
    load_config()
    signal.signal(signal.SIGHUP, load_config)
    signal.signal(signal.SIGTERM, stop)
    # Written once SIGHUP is handled, removed when the worker stops: while
    # the file is there, a SIGHUP to its PID reloads the config.
    with open(PIDFILE, "w") as f:
        f.write(str(os.getpid()))
    try:
        while True:
            try:
                main()
            except (redis.exceptions.RedisError, psycopg2.Error) as e:
                print(f"worker: {e}; retrying", flush=True)
                time.sleep(1)
    finally:
        os.remove(PIDFILE)
