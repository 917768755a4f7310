"""A static file server for the tests, on a free loopback port: Python's standard library only.

It serves a directory as nginx or an object store would: GET and HEAD of files, 404 for what is
not there, no directory listings, a strong `ETag` (the file's sha256) on every file, and
`304 Not Modified` when a request's `If-None-Match` names the current one. Every request is
logged to `--log`, one `METHOD PATH STATUS` a line, so tests count what a command asked for.
With `--basic LOGIN:PASSWORD`, a request without those credentials is answered 401. While a
file named `drip` exists beside the log, every file under `/packages/` drips one byte a second
(a registry that is slow, not down).
It prints its port on stdout, then serves until it is killed.

Python's `http.server` alone sends no `ETag`, and a static registry must answer conditional
requests, so this is the few lines on top of it that do.
"""

import argparse
import hashlib
import http.server
import os
import posixpath
import sys
import threading
import time
import urllib.parse


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--basic", help="LOGIN:PASSWORD every request must authenticate with")
    args = parser.parse_args()
    expected_auth = None
    if args.basic:
        import base64
        expected_auth = "Basic " + base64.b64encode(args.basic.encode()).decode()
    root = os.path.realpath(args.root)
    log_lock = threading.Lock()
    drip_switch = os.path.join(os.path.dirname(os.path.abspath(args.log)), "drip")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *values):
            pass

        def record(self, status):
            with log_lock, open(args.log, "a") as log:
                log.write(f"{self.command} {self.path} {status}\n")

        def send(self, status, body=b"", headers=()):
            self.record(status)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and status != 304:
                self.wfile.write(body)

        def resolve(self):
            path = urllib.parse.urlsplit(self.path).path
            path = posixpath.normpath(urllib.parse.unquote(path)).lstrip("/")
            full = os.path.realpath(os.path.join(root, path))
            if full != root and not full.startswith(root + os.sep):
                return None
            return full if os.path.isfile(full) else None

        def do_GET(self):
            if expected_auth is not None and self.headers.get("Authorization") != expected_auth:
                self.send(401, b"unauthorized\n", [("WWW-Authenticate", 'Basic realm="packs"')])
                return
            full = self.resolve()
            if full is None:
                self.send(404, b"not found\n", [("Content-Type", "text/plain")])
                return
            with open(full, "rb") as file:
                body = file.read()
            etag = '"' + hashlib.sha256(body).hexdigest() + '"'
            wanted = self.headers.get("If-None-Match")
            if wanted is not None and etag in [tag.strip() for tag in wanted.split(",")]:
                self.send(304, headers=[("ETag", etag)])
                return
            if os.path.exists(drip_switch) and self.path.startswith("/packages/"):
                self.drip(body, etag)
                return
            kind = "application/json" if full.endswith(".json") else "application/octet-stream"
            if full.endswith(".html"):
                kind = "text/html; charset=utf-8"
            self.send(200, body, [("ETag", etag), ("Content-Type", kind)])

        def drip(self, body, etag):
            self.record(200)
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass

        do_HEAD = do_GET

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
