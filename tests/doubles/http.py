"""What the Kubernetes and Nomad API doubles share: a loopback HTTP server, a record of
every request, scripted faults, and chunked streaming. Each double keeps only its API."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Req:
    seq: int
    method: str
    path: str
    query: Any
    body: Any
    status: int = 0


@dataclass
class Fault:
    status: int
    method: str | None
    path_re: str | None
    times: int
    message: str


class ApiDouble:
    """State both doubles hold, under one lock that ``changed`` notifies on."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.requests: list[Req] = []
        self.faults: list[Fault] = []
        self.stopping = False
        self.server: ThreadingHTTPServer | None = None

    def serve(self, handler: type[DoubleHandler]) -> int:
        """Serve ``handler`` (bound to this double) on a free loopback port; return the port."""
        double = self

        class Bound(handler):  # type: ignore[valid-type, misc]
            api = double

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Bound)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return int(self.server.server_address[1])

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
            self.changed.notify_all()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def add_fault(self, status: int, method: str | None, path: str | None, times: int, message: str) -> None:
        """The next ``times`` requests matching ``method`` and the ``path`` regex get ``status``."""
        with self.lock:
            self.faults.append(Fault(status, method, path, times, message))

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The scripted fault this request hits, if any (call with the lock held)."""
        for fault in self.faults:
            if fault.times > 0 and fault.method in (None, method) and \
                    (fault.path_re is None or re.search(fault.path_re, path)):
                fault.times -= 1
                return fault
        return None

    def calls(self, method: str | None = None, path: str = "") -> list[Req]:
        with self.lock:
            return [r for r in self.requests if (method is None or r.method == method) and re.search(path, r.path)]


class DoubleHandler(BaseHTTPRequestHandler):
    api: Any
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def read_request(self, method: str) -> tuple[str, dict[str, list[str]], Any, Req]:
        """Parse the request and record it: (path, query, JSON body, its Req)."""
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with self.api.lock:
            req = Req(len(self.api.requests) + 1, method, url.path, query, body)
            self.api.requests.append(req)
        return url.path, query, body, req

    def _chunk(self, obj: Any) -> None:
        """One newline-terminated JSON object as an HTTP/1.1 chunk (watch and event streams)."""
        data = json.dumps(obj).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _handle(self, method: str) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")
