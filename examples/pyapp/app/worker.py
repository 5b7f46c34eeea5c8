"""The worker: moves the visits the web service queues in Redis into
PostgreSQL, one row each."""
import json
import time

import psycopg2
import redis

import store


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
        print(f"worker: stored a visit of {visit['path']}", flush=True)


if __name__ == "__main__":
    while True:
        try:
            main()
        except (redis.exceptions.RedisError, psycopg2.Error) as e:
            print(f"worker: {e}; retrying", flush=True)
            time.sleep(1)
