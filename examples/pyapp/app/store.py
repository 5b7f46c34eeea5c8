"""The connections both the web server and the worker use."""
import psycopg2
import redis


def redis_client():
    return redis.Redis(host="redis", port=6379, socket_timeout=5)


def postgres():
    """A connection to PostgreSQL, with the visits table made if it is not there."""
    conn = psycopg2.connect(host="db", user="postgres", dbname="postgres", connect_timeout=2)
    conn.autocommit = True
    with conn.cursor() as cur:
        # Two first connections at once: CREATE TABLE IF NOT EXISTS alone
        # may fail in one of them.
        cur.execute("SELECT pg_advisory_lock(1)")
        try:
            cur.execute("CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, path text, at timestamptz)")
        finally:
            cur.execute("SELECT pg_advisory_unlock(1)")
    return conn
