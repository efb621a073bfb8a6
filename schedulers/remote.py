"""What the cluster schedulers (kubernetes, nomad) do alike, held once.

Both drive a remote API that answers at once and converges later, so both poll: how often
(``poll-interval``), for how long (``rollout-timeout``, ``run-timeout``), and what a wait
that ran out says. Both run a one-off the same way (create it, fire
``post-container-create``, wait, report, always remove it), read logs the same way (one
prefix per instance, streams merged on ``-t``), and both have a render command
(``k8s:manifests``, ``nomad:job``) that prints what a deploy would send. A driver says only
what differs: how to create, await and remove a one-off, how to read one instance's log.

Not contract: nothing in core calls these names; they are the two drivers' shared code.
This module imports nothing of core's orchestration (the render helper takes the command's
context as a value, it does not import the CLI), so a driver importing it stays within the
import rules.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import click

from dockyard.core.errors import DeployError, DockyardError
from dockyard.core.hooks import Hooks
from dockyard.core.lookup import computed_float
from dockyard.core.models import DeployPlan, Instance, Phase
from dockyard.schedulers.base import Scheduler
from dockyard.schedulers.capabilities import check_plan
from dockyard.schedulers.logstreams import merge_log_streams
from dockyard.schedulers.runs import run_argv

#: a one-off's handle, as the driver names it (a pod name, a job id)
OneOff = TypeVar("OneOff")
Rendered = TypeVar("Rendered")

#: a log stream: called once, yields the raw bytes of one followed log
LogStream = Callable[[], Iterator[bytes]]


class RemoteScheduler(Scheduler, Generic[OneOff]):
    """A scheduler whose instances run on a cluster it reaches through an API.

    Its settings live under ``plugin`` (``scheduler-kubernetes``, ``scheduler-nomad``), so
    the waits read the same property names on either cluster.
    """

    #: the driver's property namespace
    plugin: ClassVar[str]

    # ---- waiting -----------------------------------------------------------------
    def _poll(self, app: str | None) -> float:
        """Seconds between two reads of a converging state (``poll-interval``, default 1)."""
        return computed_float(self.store, self.plugin, app, "poll-interval", 1.0)

    def _wait_until_done(self, app: str, pending: Callable[[], str | None],
                         late: Callable[[str, float], DockyardError],
                         setting: str = "rollout-timeout", default: float = 900.0) -> None:
        """Poll ``pending`` (what is still not done, or None once all is) until it is done, or
        raise ``late(what, timeout)`` once ``setting`` seconds passed. ``pending`` may raise
        itself for a state that will never converge."""
        timeout = computed_float(self.store, self.plugin, app, setting, default)
        deadline = time.monotonic() + timeout
        while (what := pending()) is not None:
            if time.monotonic() > deadline:
                raise late(what, timeout)
            time.sleep(self._poll(app))

    def _wait_started(self, app: str, pending: Callable[[], str | None]) -> None:
        """``start``'s wait: ``ps:start`` returns once what ``stop`` stopped runs again, as
        Dokku's returns once the containers are up; ``rollout-timeout`` bounds it."""
        self._wait_until_done(
            app, pending, lambda what, timeout: DeployError(f"app {app}: {what} did not start within {timeout:.0f}s"))

    def _wait_stopped(self, app: str, pending: Callable[[], str | None]) -> None:
        """``stop``'s wait: ``ps:stop`` returns once the app's processes have ended (Dokku's
        returns once ``docker stop`` did), so a report right after it shows nothing running;
        ``rollout-timeout`` bounds it."""
        self._wait_until_done(
            app, pending, lambda what, timeout: DeployError(f"app {app}: {what} still running after {timeout:.0f}s"))

    # ---- run ---------------------------------------------------------------------
    def run(self, plan: DeployPlan, command: Sequence[str], hooks: Hooks, tty: bool = False,
            env: dict[str, str] | None = None) -> int:
        """A one-off (``dokku run``): created with the release's image and env plus
        ``DYNO=run.1``, announced by ``post-container-create`` before it starts its work,
        awaited up to ``run-timeout``, and removed whatever happened."""
        check_plan(plan.app, plan.networks, (), self.name, self.capabilities)
        one_off = self._create_one_off(plan, run_argv(plan, command), {**(env or {}), "DYNO": "run.1"})
        try:
            hooks.fire("post-container-create", container_type="app", container_id=str(one_off), app=plan.app,
                       phase=Phase.RUN, process_type="run", scheduler=self)
            deadline = time.monotonic() + computed_float(self.store, self.plugin, plan.app, "run-timeout", 3600.0)
            return self._await_one_off(plan.app, one_off, deadline)
        finally:
            self._remove_one_off(plan.app, one_off)

    @abc.abstractmethod
    def _create_one_off(self, plan: DeployPlan, argv: list[str], env: dict[str, str]) -> OneOff:
        """Submit the one-off running ``argv``; its handle."""

    @abc.abstractmethod
    def _await_one_off(self, app: str, one_off: OneOff, deadline: float) -> int:
        """Wait (until ``deadline``, a ``time.monotonic`` value) for it to end, copying its
        output to this process's stdout/stderr; its exit code."""

    @abc.abstractmethod
    def _remove_one_off(self, app: str, one_off: OneOff) -> None:
        """Remove it and what it left; must not raise for a one-off already gone."""

    # ---- logs --------------------------------------------------------------------
    def logs(self, app: str, process_type: str | None = None, follow: bool = False,
             tail: int | None = None) -> Iterator[str]:
        """Each instance's lines prefixed ``APP[PROC.N]: `` as Dokku prints them; with
        ``follow`` every instance's streams at once, merged line by line."""
        targets = [(i, f"{app}[{i.process_type}.{i.index}]") for i in self.status(app)
                   if process_type is None or i.process_type == process_type]
        if not follow:
            for instance, prefix in targets:
                for line in self._log_lines(app, instance, tail):
                    yield f"{prefix}: {line}"
            return
        yield from merge_log_streams([(prefix, stream) for instance, prefix in targets
                                      for stream in self._log_streams(app, instance, tail)])

    @abc.abstractmethod
    def _log_lines(self, app: str, instance: Instance, tail: int | None) -> list[str]:
        """The instance's log so far (its last ``tail`` lines when given)."""

    @abc.abstractmethod
    def _log_streams(self, app: str, instance: Instance, tail: int | None) -> list[LogStream]:
        """The instance's followed logs (one per output the cluster keeps apart)."""


# ---- render commands -------------------------------------------------------------------
class RenderContext(Protocol):
    """What a render command needs of the CLI's context (``CliContext``), named here so
    this module need not import the CLI."""

    @property
    def store(self) -> Any: ...

    def render_plan(self, app: str, image: str | None, scheduler: Scheduler) -> DeployPlan: ...


def render_command(name: str) -> Callable[[Callable[..., None]], click.Command]:
    """The command line every render command takes: ``NAME APP [--image IMAGE]``. Applied
    above ``pass_cli``, which the driver's ``cli.py`` imports (only it may)."""

    def decorate(func: Callable[..., None]) -> click.Command:
        func = click.option("--image", metavar="IMAGE",
                            help="Image to render (default: the app's last deployed one).")(func)
        return click.command(name)(click.argument("app")(func))

    return decorate


def render_as_deployed(c: RenderContext, app: str, image: str | None, scheduler: Scheduler,
                       render: Callable[[DeployPlan], Rendered]) -> Rendered:
    """What a deploy of ``app`` (with ``image``, default its current release) would send to
    ``scheduler``: the same plan, refused by the same capability check, rendered by the same
    function as ``rollout``, whichever scheduler the app has selected. Nothing here contacts
    the cluster, so the commands work without one."""
    plan = c.render_plan(app, image, scheduler)
    check_plan(app, plan.networks, plan.ports, scheduler.name, scheduler.capabilities)
    return render(plan)
