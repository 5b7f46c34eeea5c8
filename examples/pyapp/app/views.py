"""The pages. Edit GREETING and reload the page: berth watch syncs this file
into the running container and the server re-imports it."""
import json
import time

import store

GREETING = "Hello from berth"


def handle(path, title):
    if path == "/deps":
        with open("/app/deps.txt") as f:
            return 200, f.read()
    if path != "/":
        return 404, "not found\n"
    r = store.redis_client()
    hits = r.incr("hits")
    # The worker moves each visit from this queue into PostgreSQL.
    r.rpush("visits", json.dumps({"path": path, "at": time.time()}))
    conn = store.postgres()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM visits")
            stored = cur.fetchone()[0]
    finally:
        conn.close()
    return 200, f"{title}\n{GREETING}\nhits: {hits}\nvisits stored by the worker: {stored}\n"
