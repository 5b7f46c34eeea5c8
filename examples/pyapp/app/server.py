"""The pyapp web server: Python's standard library HTTP server in front of
views.py. views.py is re-imported when its file changes, so an edit that
develop.watch syncs into the container is served at the next request,
without a restart."""
import configparser
import importlib
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import views

config = configparser.ConfigParser()
config.read("/etc/pyapp/app.ini")
TITLE = config.get("app", "title", fallback="pyapp")
_loaded = os.stat(views.__file__).st_mtime_ns


def current_views():
    """views, re-imported if its file changed since it was loaded."""
    global _loaded
    mtime = os.stat(views.__file__).st_mtime_ns
    if mtime != _loaded:
        importlib.reload(views)
        _loaded = mtime
    return views


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            status, body = current_views().handle(self.path, TITLE)
        except Exception as e:  # an edit in progress must not end the server
            status, body = 500, f"error: {e}\n"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    print(f"{TITLE}: listening on :8000", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
