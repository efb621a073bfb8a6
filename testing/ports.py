"""A loopback port for a test's own server (nginx, redis, etcd, an HTTP answerer).

Binding port 0 hands out a port from the kernel's ephemeral range, the same range every
outgoing connection takes its source port from. A port found free that way and bound a
moment later by nginx can meanwhile have become the source port of some client's connection
(to redis, etcd, the ACME server...), and nginx's reload then fails with EADDRINUSE: seen
in CI. So the port is drawn below the ephemeral range, where no connection's source port
comes from, and checked free by binding it.
"""

from __future__ import annotations

import random
import socket

#: the ports drawn from when the ephemeral range leaves room below it (Linux: 32768-60999)
_LOW = 20000


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            low, high = (int(x) for x in fh.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free now and outside the ephemeral range."""
    low, high = _ephemeral_range()
    span = range(_LOW, low) if low - _LOW >= 1000 else range(high + 1, 65536)
    for _ in range(200):
        port = random.choice(span)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # a crowded machine: any free one
        s.bind((host, 0))
        return int(s.getsockname()[1])
