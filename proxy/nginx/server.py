"""The nginx process: main config, start/stop, reload, and whether it is running.

Dockyard writes one file per app under ``CONF_DIR/http`` and ``CONF_DIR/stream``; the main
config (``nginx:set --global main-conf PATH``) must include ``CONF_DIR/http/*.conf`` inside
``http {}`` and ``CONF_DIR/stream/*.conf`` inside ``stream {}``. ``nginx:start`` writes a
complete main config when none exists, with pid, logs and temp paths under the conf dir,
so a private nginx (tests, users who are not root) needs nothing else.

A reload is a SIGHUP to the master (``nginx -s reload`` would parse the whole config once
more just to find the pid) followed by a wait until new workers are up and every old one
has stopped accepting (it exited or retitled itself "shutting down"), so "reloaded" means
every new connection gets the new config. If the master rejects the config (a port
already bound, say) no new workers appear and the caller rolls back.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from dockyard.core.errors import ProxyError

STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")


@dataclass(frozen=True)
class Layout:
    """Where Dockyard's nginx files live."""

    conf_dir: Path
    main_conf: Path
    binary: str
    reload_command: str = ""

    @property
    def http_dir(self) -> Path:
        return self.conf_dir / "http"

    @property
    def stream_dir(self) -> Path:
        return self.conf_dir / "stream"

    @property
    def log_dir(self) -> Path:
        return self.conf_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.conf_dir / "run"

    @property
    def tmp_dir(self) -> Path:
        return self.conf_dir / "tmp"

    def http_file(self, app: str) -> Path:
        return self.http_dir / f"{app}.conf"

    def stream_file(self, app: str) -> Path:
        return self.stream_dir / f"{app}.conf"

    def http_include(self) -> str:
        return str(self.http_dir / "*.conf")

    def stream_include(self) -> str:
        return str(self.stream_dir / "*.conf")


def find_binary(name: str) -> str | None:
    if "/" in name:
        return name if os.access(name, os.X_OK) else None
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/local/sbin/{name}") if os.access(p, os.X_OK)), None)


@functools.lru_cache(maxsize=8)
def version(binary: str) -> tuple[int, ...]:
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out.stderr + out.stdout)
    return tuple(int(x) for x in match.groups()) if match else (0, 0, 0)


@functools.lru_cache(maxsize=8)
def stream_static(binary: str) -> bool:
    out = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10)
    text = out.stderr + out.stdout
    return "--with-stream" in text and "--with-stream=dynamic" not in text


def main_conf_text(layout: Layout) -> str:
    """A complete nginx.conf for a private nginx serving Dockyard's apps."""
    q = shlex.quote
    load = ""
    stream = ""
    if STREAM_MODULE.exists() and not stream_static(layout.binary):
        load = f"load_module {q(str(STREAM_MODULE))};\n"
    if load or stream_static(layout.binary):
        stream = f"\nstream {{\n    include {q(layout.stream_include())};\n}}\n"
    tmp = layout.tmp_dir
    return f"""# Written by `dockyard nginx:start`. Dockyard only adds and removes files under
# {layout.conf_dir}/{{http,stream}}; edit this file freely, but keep the two includes.
{load}worker_processes auto;
pid {q(str(layout.run_dir / 'nginx.pid'))};
error_log {q(str(layout.log_dir / 'error.log'))};

events {{
    worker_connections 4096;
}}

http {{
    access_log {q(str(layout.log_dir / 'access.log'))};
    client_body_temp_path {q(str(tmp / 'client_body'))};
    proxy_temp_path {q(str(tmp / 'proxy'))};
    fastcgi_temp_path {q(str(tmp / 'fastcgi'))};
    uwsgi_temp_path {q(str(tmp / 'uwsgi'))};
    scgi_temp_path {q(str(tmp / 'scgi'))};
    server_tokens off;
    server_names_hash_bucket_size 512;
    types_hash_max_size 2048;
    default_type application/octet-stream;
    ssl_session_cache shared:SSL:20m;
    ssl_session_timeout 1d;
    ssl_session_tickets off;
    include {q(layout.http_include())};
}}
{stream}"""


def ensure_dirs(layout: Layout) -> None:
    for d in (layout.http_dir, layout.stream_dir, layout.log_dir, layout.run_dir, layout.tmp_dir):
        d.mkdir(parents=True, exist_ok=True)


def pid_path(layout: Layout) -> Path:
    """The pid file the main config names (``pid`` directive), or nginx's default."""
    try:
        text = layout.main_conf.read_text()
    except OSError:
        return layout.run_dir / "nginx.pid"
    match = re.search(r"^\s*pid\s+['\"]?([^;'\"]+)['\"]?\s*;", text, re.M)
    return Path(match.group(1)) if match else Path("/run/nginx.pid")


def error_log_path(layout: Layout) -> Path | None:
    try:
        text = layout.main_conf.read_text()
    except OSError:
        return None
    match = re.search(r"^error_log\s+['\"]?([^;'\" ]+)", text, re.M)
    return Path(match.group(1)) if match else None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def running_pid(layout: Layout) -> int | None:
    try:
        pid = int(pid_path(layout).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _retiring(pid: int) -> bool:
    """An old worker no longer accepts: it exited, or retitled itself "shutting down"."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            title = fh.read()
    except OSError:
        return True
    return not title or b"shutting down" in title or not _alive(pid)


def children(pid: int) -> set[int]:
    kids: set[int] = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if len(fields) > 1 and fields[1] == str(pid) and fields[0] not in ("Z", "X"):
            kids.add(int(entry.name))
    return kids


def test_config(layout: Layout, main_conf: Path) -> tuple[bool, str]:
    """``nginx -t`` on ``main_conf``: (passed, nginx's output)."""
    err = layout.log_dir / "error.log"
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([layout.binary, "-t", "-q", "-e", str(err), "-c", str(main_conf)],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode == 0, (proc.stderr + proc.stdout).strip()


def _error_tail(layout: Layout, since: int, levels: tuple[str, ...] = ("[emerg]",)) -> str:
    path = error_log_path(layout)
    if path is None:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(since)
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    bad = [line for line in lines if any(level in line for level in levels)]
    return "\n".join(bad[-3:])


def _log_size(layout: Layout) -> int:
    path = error_log_path(layout)
    try:
        return path.stat().st_size if path else 0
    except OSError:
        return 0


def reload(layout: Layout, timeout: float = 10.0) -> None:
    """Reload and wait until new workers serve the new config; ProxyError if nginx refused it."""
    if layout.reload_command:
        proc = subprocess.run(shlex.split(layout.reload_command), capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise ProxyError(f"nginx reload command failed: {(proc.stderr or proc.stdout).strip()}")
        return
    pid = running_pid(layout)
    if pid is None:
        raise ProxyError("nginx is not running")
    before = children(pid)
    log_at = _log_size(layout)
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if children(pid) - before and all(_retiring(old) for old in before):
            return
        if not _alive(pid):
            raise ProxyError("nginx exited during reload")
        error = _error_tail(layout, log_at)
        if error:
            if "bind() to" in error and "still could not bind()" not in error:
                # the master tries a busy port five times, 0.5 s apart; wait for its last word,
                # so its late lines are not taken for the next reload's answer
                time.sleep(0.05)
                continue
            first = next((line for line in error.splitlines() if "still could not bind()" not in line), error)
            raise ProxyError(f"nginx refused the new config: {first.strip()}")
        time.sleep(0.005)
    raise ProxyError(f"nginx did not reload within {timeout:.0f}s: {_error_tail(layout, log_at) or 'no error logged'}")


def start(layout: Layout) -> str:
    ensure_dirs(layout)
    wrote = ""
    if not layout.main_conf.exists():
        layout.main_conf.parent.mkdir(parents=True, exist_ok=True)
        layout.main_conf.write_text(main_conf_text(layout))
        wrote = f"wrote {layout.main_conf}; "
    pid = running_pid(layout)
    if pid is not None:
        return f"{wrote}nginx is already running (pid {pid})"
    err = layout.log_dir / "error.log"
    ok, output = test_config(layout, layout.main_conf)
    if not ok:
        raise ProxyError(f"nginx config {layout.main_conf} is invalid:\n{output}")
    proc = subprocess.run([layout.binary, "-e", str(err), "-c", str(layout.main_conf)],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise ProxyError(f"nginx failed to start: {(proc.stderr or proc.stdout).strip()}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pid = running_pid(layout)
        if pid is not None and children(pid):
            return f"{wrote}nginx started (pid {pid}) with {layout.main_conf}"
        time.sleep(0.01)
    raise ProxyError(f"nginx did not start: {_error_tail(layout, 0, ('[emerg]', '[alert]')) or 'see ' + str(err)}")


def stop(layout: Layout, timeout: float = 10.0) -> str:
    pid = running_pid(layout)
    if pid is None:
        return "nginx is not running"
    os.kill(pid, signal.SIGQUIT)  # graceful: finish in-flight requests
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return f"nginx stopped (pid {pid})"
        time.sleep(0.02)
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.5)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    return f"nginx stopped (pid {pid}, forced after {timeout:.0f}s)"
