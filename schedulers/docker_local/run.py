"""One-off containers (``dockyard run``): ``APP.run.N``, the app's labels, env and networks.

The container is created on the initial network, attached to the post-create networks
before it starts, streamed to our stdout/stderr, removed afterwards, and its exit code is
passed through. As in Dokku, a first argument naming a Procfile entry runs that entry.

Our stdin goes to the container (``echo hi | dockyard run APP cat`` works, and the
container sees EOF when ours ends); with ``tty`` a terminal is allocated and ours is put in
raw mode for the session, so ``dockyard run APP sh`` is interactive.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from collections.abc import Sequence
from typing import Any

from dockyard.core.errors import DockyardError
from dockyard.core.hooks import Hooks
from dockyard.core.models import DeployPlan, Phase
from dockyard.schedulers.docker_local import containers
from dockyard.schedulers.docker_local import labels as L
from dockyard.schedulers.runs import run_argv, stream_output


def _free_index(api: Any, app: str) -> int:
    used = {c.get("Labels", {}).get(L.DYNO, "") for c in containers.listing(api, app, "run")}
    n = 1
    while f"run.{n}" in used:
        n += 1
    return n


def run(api: Any, plan: DeployPlan, command: Sequence[str], hooks: Hooks, tty: bool,
        env: dict[str, str] | None, scheduler: Any) -> int:
    argv = run_argv(plan, command)
    initial = plan.networks.initial_network
    for _attempt in range(20):  # another run may take the same index between list and create
        index = _free_index(api, plan.app)
        labels = {L.MARKER: "1", L.APP: plan.app, L.PROCESS: "run", L.DYNO: f"run.{index}",
                  L.RELEASE: plan.release, L.CONTAINER_TYPE: "run"}
        environment = {**plan.env, **(env or {}), "DYNO": f"run.{index}"}
        stdin = _stdin_fd()
        config = api.create_container_config(
            image=plan.image, command=argv, labels=labels, environment=environment, tty=tty,
            stdin_open=stdin is not None,
            host_config=api.create_host_config(init=True, network_mode=initial or None),
            detach=True,
        )
        config["StdinOnce"] = stdin is not None  # our EOF closes the container's stdin
        try:
            cid = str(api.create_container_from_config(config, name=L.run_name(plan.app, index))["Id"])
            break
        except Exception as exc:
            if "Conflict" not in str(exc) and "409" not in str(exc):
                raise
    else:
        raise DockyardError(f"could not find a free run container name for {plan.app}")
    try:
        for net in plan.networks.attach_post_create:
            if net != initial:
                containers.connect(api, cid, net)
        hooks.fire("post-container-create", container_type="app", container_id=cid, app=plan.app,
                   phase=Phase.RUN, process_type="run", scheduler=scheduler)
        attached = api.attach_socket(cid, params={"stdin": 1, "stream": 1}) if stdin is not None else None
        api.start(cid)
        with _raw_terminal(stdin if tty else None):
            if attached is not None and stdin is not None:
                threading.Thread(target=_pump_stdin, args=(stdin, attached), daemon=True).start()
            stream_output(api, cid, tty)
            return int(api.wait(cid).get("StatusCode", 1))
    finally:
        containers.remove(api, cid)


def _stdin_fd() -> int | None:
    """Our stdin's descriptor, if there is one to forward (none under a test's capture)."""
    try:
        fd = sys.stdin.fileno()
        os.fstat(fd)
    except (AttributeError, OSError, ValueError):
        return None
    return fd


def _pump_stdin(fd: int, attached: Any) -> None:
    raw = getattr(attached, "_sock", attached)
    try:
        while data := os.read(fd, 65536):
            raw.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def _raw_terminal(fd: int | None) -> Any:
    """Raw mode on our terminal while a tty session runs; always restored."""
    if fd is None or not os.isatty(fd):
        yield
        return
    import termios
    import tty as tty_mod

    saved = termios.tcgetattr(fd)
    try:
        tty_mod.setraw(fd, termios.TCSANOW)  # TCSAFLUSH would drop what was typed ahead
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


