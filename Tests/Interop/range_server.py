"""A small HTTP server that serves files with Range support, for the remote-checkpoint tests.

It counts requests and body bytes (the judge of "reads only what it needs"), and has switches
for the behaviours ptview must cope with: a server that ignores Range, redirects (to the same
or another host name), transient 503s, and a bearer-token check. Bound to 127.0.0.1 on a free port; started and stopped by tests.
"""
from __future__ import annotations

import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


class Switches:
    """What the server does; tests change these between requests."""

    def __init__(self) -> None:
        self.ignore_range = False  # answer 200 with the whole file
        self.redirect = False  # /r/PATH -> 302 -> /PATH (any request under /r/)
        self.redirect_host: str | None = None  # redirect to this host (same port) instead
        self.fail_first = 0  # answer this many requests with 503 first
        self.token: str | None = None  # require "Authorization: Bearer TOKEN"
        self.drop_first = 0  # close this many connections without answering
        self.pad = 0  # send this many extra bytes after each ranged body (a hostile server)


class RangeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.root = os.path.abspath(root)
        self.switches = Switches()
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes_sent = 0
        self.log: list[tuple[str, str | None, str | None]] = []  # path, range, authorization
        self.connections: set[int] = set()  # client ports seen: kept-alive connections reuse one
        self.thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> "RangeServer":
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def reset(self) -> None:
        with self.lock:
            self.requests = 0
            self.bytes_sent = 0
            self.log.clear()
            self.connections.clear()
        self.switches = Switches()


RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Handler(BaseHTTPRequestHandler):
    server: RangeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        s = self.server
        with s.lock:
            s.requests += 1
            s.log.append((self.path, self.headers.get("Range"), self.headers.get("Authorization")))
            s.connections.add(self.client_address[1])
            drop = s.switches.drop_first > 0
            if drop:
                s.switches.drop_first -= 1
            fail = s.switches.fail_first > 0
            if fail and not drop:
                s.switches.fail_first -= 1
        if drop:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if fail:
            return self.plain(503, b"try again\n")
        if s.switches.token is not None and self.headers.get("Authorization") != f"Bearer {s.switches.token}":
            return self.plain(401, b"token required\n")
        path = unquote(urlsplit(self.path).path)
        if path.startswith("/r/"):
            self.send_response(302)
            host = s.switches.redirect_host
            location = path[2:] if host is None else f"http://{host}:{s.server_address[1]}{path[2:]}"
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        full = os.path.abspath(os.path.join(s.root, path.lstrip("/")))
        if not full.startswith(s.root + os.sep) or not os.path.isfile(full):
            return self.plain(404, b"not found\n")
        size = os.path.getsize(full)
        wanted = self.headers.get("Range")
        if s.switches.ignore_range or wanted is None:
            return self.send_file(full, 200, 0, size, size)
        m = RANGE.match(wanted.strip())
        if not m or (m.group(1) == "" and m.group(2) == ""):
            return self.plain(416, b"bad range\n", {"Content-Range": f"bytes */{size}"})
        if m.group(1) == "":
            n = int(m.group(2))
            start, end = max(0, size - n), size - 1
        else:
            start = int(m.group(1))
            end = min(size - 1, int(m.group(2))) if m.group(2) else size - 1
        if size == 0 or start >= size or end < start:
            return self.plain(416, b"", {"Content-Range": f"bytes */{size}"})
        self.send_file(full, 206, start, end + 1, size)

    def plain(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_file(self, full: str, status: int, start: int, end: int, size: int) -> None:
        pad = self.server.switches.pad if status == 206 else 0
        self.send_response(status)
        self.send_header("Content-Length", str(end - start + pad))
        self.send_header("Accept-Ranges", "none" if self.server.switches.ignore_range else "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.end_headers()
        with open(full, "rb") as f:
            f.seek(start)
            left = end - start
            try:
                while left > 0:
                    chunk = f.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)
                    with self.server.lock:
                        self.server.bytes_sent += len(chunk)
                while pad > 0:
                    n = min(pad, 1 << 16)
                    self.wfile.write(bytes(n))
                    pad -= n
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
