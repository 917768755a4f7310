#!/usr/bin/env python3
"""A hostile OCI registry for the tests (Python standard library only).

It serves the read side of the OCI distribution API for one pack (`GET /v2/`, the catalog, tag
lists, the pack's manifest and blobs) on a free loopback port, which it prints on its first line,
and misbehaves as `--mode` says:

- `ok`: behaves (to show that the refusals below are for the misbehaviour alone);
- `huge-blob`: the pack blob goes on far past its descriptor's size (zeros, no Content-Length);
- `huge-descriptor`: the manifest gives the pack layer a size of 1 TiB;
- `huge-manifest`: the manifest never ends (no Content-Length);
- `wrong-size`: the manifest gives the pack layer 1000 bytes more than the blob has;
- `slow`: every answer but `/v2/` drips one byte a second, forever;
- `drip-manifest`: the pack's manifest (about 700 bytes) drips one byte every two seconds, with
  its true `Content-Length`; every other answer behaves;
- `redirect-loop`: every answer but `/v2/` redirects to itself;
- `garbage-json`: the manifest, the catalog and the tag lists are not JSON;
- `token`: every answer but the token endpoint `/token` is `401` with a `Bearer` challenge
  whose realm is `--realm` (else its own `/token`), unless the request carries the bearer token
  that `/token` hands out to anyone (logged as `TOKEN <the scheme of the credentials sent>`);
- `token-endless`: the same, and its `/token` never ends (no Content-Length);
- `token-login`: the same, and its `/token` answers `401` to a request without credentials.

In every mode the catalog and the tag lists are paginated as the distribution specification
allows and hostile clients will meet: at most `--page-size` entries a page whatever `n` asks for,
`last` honoured, and no `Link` header. Every request is appended to `--log` as `METHOD PATH`.
"""

import argparse
import hashlib
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = (
    "ok",
    "huge-blob",
    "huge-descriptor",
    "huge-manifest",
    "wrong-size",
    "slow",
    "drip-manifest",
    "redirect-loop",
    "garbage-json",
    "token",
    "token-endless",
    "token-login",
)
TOKEN = "hostile-token"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CHUNK = 64 * 1024
# An endless answer stops here all the same, so that a client that reads it whole cannot take
# the machine down with it.
ENDLESS_LIMIT = 8 * 1024 * 1024 * 1024


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type, data, title=None, size=None):
    found = {
        "mediaType": media_type,
        "digest": digest(data),
        "size": len(data) if size is None else size,
    }
    if title:
        found["annotations"] = {"org.opencontainers.image.title": title}
    return found


class Registry:
    """What the server holds: one pack's manifest and blobs, and the listings."""

    def __init__(self, args):
        self.mode = args.mode
        self.page_size = args.page_size
        self.repository = f"{args.namespace}/{args.module}"
        self.version = args.version
        with open(args.pack, "rb") as file:
            self.pack = file.read()
        self.blobs = {digest(self.pack): self.pack}
        pack_size = {"huge-descriptor": 1 << 40, "wrong-size": len(self.pack) + 1000}
        layers = [
            descriptor(
                "application/vnd.provisioning.pack.layer.v1.tar",
                self.pack,
                f"{args.module}_{args.version}.tar",
                pack_size.get(self.mode),
            )
        ]
        if args.signature:
            with open(args.signature, "rb") as file:
                signature = file.read()
            self.blobs[digest(signature)] = signature
            layers.append(
                descriptor(
                    "application/vnd.provisioning.pack.signature.v1.minisig",
                    signature,
                    f"{args.module}_{args.version}.tar.minisig",
                )
            )
        config = b"{}"
        self.blobs[digest(config)] = config
        self.manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_MEDIA_TYPE,
                "artifactType": "application/vnd.provisioning.pack.v1",
                "config": descriptor("application/vnd.oci.empty.v1+json", config),
                "layers": layers,
                "annotations": json.loads(args.annotations),
            }
        ).encode()
        modules = [args.module] + [m for m in args.modules.split(",") if m]
        self.repositories = sorted(
            [f"{args.namespace}/{m}" for m in modules] + ["elsewhere/not-ours"]
        )
        self.tags = sorted(set([args.version] + [t for t in args.tags.split(",") if t]))
        self.log_path = args.log
        self.log_lock = threading.Lock()

    def log(self, line):
        with self.log_lock, open(self.log_path, "a") as log:
            log.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    registry = None  # set in main
    realm = None  # set in main

    def log_message(self, format, *args):  # the request log is ours, not stderr
        pass

    def do_GET(self):
        registry = self.registry
        registry.log(f"GET {self.path}")
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        try:
            if registry.mode.startswith("token"):
                if url.path == "/token":
                    return self.token()
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self.challenge()
            if url.path == "/v2/":
                return self.send(200, b"{}")
            if registry.mode == "slow":
                return self.drip()
            if registry.mode == "redirect-loop":
                self.send_response(307)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if url.path == "/v2/_catalog":
                return self.listing("repositories", registry.repositories, query, {})
            found = re.fullmatch(r"/v2/(.+)/(manifests|blobs|tags)/(.+)", url.path)
            if not found:
                return self.error(404, "NOT_FOUND")
            repository, kind, rest = found.groups()
            if kind == "tags" and rest == "list" and repository in registry.repositories:
                return self.listing("tags", registry.tags, query, {"name": repository})
            if kind == "manifests" and (repository, rest) == (registry.repository, registry.version):
                return self.manifest()
            if kind == "blobs" and rest in registry.blobs:
                return self.blob(rest)
            return self.error(404, "MANIFEST_UNKNOWN" if kind == "manifests" else "NAME_UNKNOWN")
        except (BrokenPipeError, ConnectionResetError):
            return

    def challenge(self):
        body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
        realm = self.realm or f"http://127.0.0.1:{self.server.server_address[1]}/token"
        challenge = f'Bearer realm="{realm}",service="hostile"'
        self.send(401, body.encode(), headers={"WWW-Authenticate": challenge})

    def token(self):
        credentials = self.headers.get("Authorization", "none").split(" ")[0].lower()
        self.registry.log(f"TOKEN {credentials}")
        if self.registry.mode == "token-endless":
            return self.endless(b'{"token": "', b"a")
        if self.registry.mode == "token-login" and credentials == "none":
            return self.error(401, "UNAUTHORIZED")
        self.send(200, json.dumps({"token": TOKEN}).encode())

    def manifest(self):
        registry = self.registry
        if registry.mode == "huge-manifest":
            return self.endless(b'{"schemaVersion": 2, "annotations": {"padding": "', b"a")
        if registry.mode == "garbage-json":
            return self.send(200, b'{"schemaVersion": 2, "layers": [<<not json>>', MANIFEST_MEDIA_TYPE)
        if registry.mode == "drip-manifest":
            self.send_response(200)
            self.send_header("Content-Type", MANIFEST_MEDIA_TYPE)
            self.send_header("Content-Length", str(len(registry.manifest)))
            self.end_headers()
            for byte in registry.manifest:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(2)
            return
        self.send(
            200,
            registry.manifest,
            MANIFEST_MEDIA_TYPE,
            {"Docker-Content-Digest": digest(registry.manifest)},
        )

    def blob(self, name):
        registry = self.registry
        data = registry.blobs[name]
        if data is registry.pack and registry.mode in ("huge-blob", "huge-descriptor"):
            return self.endless(data, b"\0")
        self.send(200, data, "application/octet-stream")

    def listing(self, key, entries, query, extra):
        if self.registry.mode == "garbage-json":
            return self.send(200, b"{\"" + key.encode() + b"\": [oops")
        asked = int(query.get("n", [self.registry.page_size])[0])
        last = query.get("last", [""])[0]
        page = [entry for entry in entries if entry > last][: min(asked, self.registry.page_size)]
        self.send(200, json.dumps({**extra, key: page}).encode())

    def send(self, status, body, content_type="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code):
        body = json.dumps({"errors": [{"code": code, "message": code.lower().replace("_", " ")}]})
        self.send(status, body.encode())

    def endless(self, prefix, filler):
        """`prefix`, then `filler` over and over: no Content-Length, the connection's end ends it."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        self.wfile.write(prefix)
        chunk = filler * (CHUNK // len(filler))
        sent = len(prefix)
        while sent < ENDLESS_LIMIT:
            self.wfile.write(chunk)
            sent += len(chunk)

    def drip(self):
        """A 1 MiB answer, one byte a second."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(1024 * 1024))
        self.end_headers()
        while True:
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=MODES, default="ok")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--module", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--pack", required=True, help="the pack's tar")
    parser.add_argument("--signature", help="its minisign signature")
    parser.add_argument("--annotations", required=True, help="the manifest's annotations, JSON")
    parser.add_argument("--modules", default="", help="more modules in the catalog, a,b,c")
    parser.add_argument("--tags", default="", help="more tags of every module, a,b,c")
    parser.add_argument("--page-size", type=int, default=2)
    parser.add_argument("--log", required=True, help="the request log")
    parser.add_argument("--realm", help="the token endpoint of the `token` modes")
    args = parser.parse_args()
    Handler.registry = Registry(args)
    Handler.realm = args.realm
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
