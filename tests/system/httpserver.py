#!/usr/bin/python3
"""Stub HTTP server for the system tests of `url =` sources.

Usage: httpserver.py --port PORT --dir DIR --log FILE [--fail-flag FILE]
                     [--redirect FROM=TO ...]

Serves the files in DIR on 127.0.0.1 (GET and HEAD) and prints "ready
PORT" on stdout once it listens (with --port 0 it picks a free port and
the line tells which).  It runs until killed (SIGTERM).

- Every response for a file carries an ETag (a hash of its content, quoted)
  and a Last-Modified (the file's mtime).
- A request whose If-None-Match lists the current ETag (or "*") gets 304;
  without If-None-Match, an If-Modified-Since not older than the file's
  mtime gets 304 (RFC 9110 13.2.2 order).
- While the file named by --fail-flag exists, every request gets 500.
- --redirect /from=/to answers requests for /from with 302 to /to.
- Other paths get 404.

Each request is appended to FILE as one JSON object per line, flushed at
once: {"method", "path", "status", "headers": {lower-case name: value}}.
"""

import argparse
import email.utils
import hashlib
import http.server
import json
import os
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "cordon-test-httpd/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def record(self, status):
        cfg = self.server.cfg
        entry = {
            "method": self.command,
            "path": self.path,
            "status": status,
            "headers": {k.lower(): v for k, v in self.headers.items()},
        }
        with cfg.lock, open(cfg.log, "a") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()

    def answer(self, status, headers=(), body=b""):
        self.record(status)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)

    def is_fresh(self, etag, mtime):
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            return "*" in tags or etag in tags
        ims = self.headers.get("If-Modified-Since")
        if ims is None:
            return False
        try:
            since = email.utils.parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
        return int(mtime) <= since

    def do_GET(self):
        cfg = self.server.cfg
        if cfg.fail_flag and os.path.exists(cfg.fail_flag):
            self.answer(500, [("Content-Type", "text/plain")],
                        b"internal error\n")
            return
        path = self.path.split("?", 1)[0]
        if path in cfg.redirects:
            self.answer(302, [("Location", cfg.redirects[path])])
            return
        name = os.path.basename(path)
        full = os.path.join(cfg.dir, name)
        if not name or not os.path.isfile(full):
            self.answer(404, [("Content-Type", "text/plain")],
                        b"not found\n")
            return
        with open(full, "rb") as f:
            body = f.read()
        mtime = os.stat(full).st_mtime
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
        headers = [("ETag", etag),
                   ("Last-Modified",
                    email.utils.formatdate(mtime, usegmt=True))]
        if self.is_fresh(etag, mtime):
            self.answer(304, headers)
            return
        self.answer(200, headers + [("Content-Type", "text/plain")], body)

    do_HEAD = do_GET


class Config:
    def __init__(self, args):
        self.dir = args.dir
        self.log = args.log
        self.fail_flag = args.fail_flag
        self.redirects = dict(r.split("=", 1) for r in args.redirect)
        self.lock = threading.Lock()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--fail-flag")
    ap.add_argument("--redirect", action="append", default=[])
    args = ap.parse_args()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", args.port),
                                            Handler)
    httpd.daemon_threads = True
    httpd.cfg = Config(args)
    print("ready %d" % httpd.server_address[1], flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
