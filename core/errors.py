"""Exceptions that the CLI turns into one line on stderr.

Every error a user can cause derives from DockyardError, so the CLI can print it as one
line and exit 1 without a traceback; anything else is a bug and keeps its traceback under
``--debug``.
"""

from __future__ import annotations


class DockyardError(Exception):
    """A failure the user can act on; its message is the whole story."""

    exit_code = 1


class ValidationError(DockyardError):
    """Input (a name, a domain, a port, a file) was malformed or hostile."""


class NotFound(DockyardError):
    """The app, network, property or driver asked for does not exist."""


class AppNotFound(NotFound):
    """Dokku's ``App APP does not exist``, with Dokku's exit code for it (20, as its
    ``verify_app_name`` and Go ``AppDoesNotExist`` exit), so a script can tell a missing app
    from any other failure."""

    exit_code = 20


class NotSupported(DockyardError):
    """A driver lacks a capability that the request needs."""


class PluginError(DockyardError):
    """A driver could not be found or loaded."""


class LockHeld(DockyardError):
    """Another process holds a lock (a deploy of the same app, say)."""


class LockLost(DockyardError):
    """A lock this process held expired (its keepalive failed): it must not write again."""


class DeployError(DockyardError):
    """A deploy failed; the old release keeps serving."""


class ProxyError(DockyardError):
    """A proxy config was rejected; the previous config stays active."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived during a command that cleans up after itself (a deploy).

    A BaseException, as KeyboardInterrupt is, so that the ``except Exception`` of a driver's
    retry loop or a hook runner lets it through, while the ``except BaseException`` cleanup
    paths (a failed rollout removing its new containers) run exactly as for a failure.
    The CLI exits with ``128 + signum``: 130 for SIGINT, 143 for SIGTERM.
    """

    def __init__(self, signum: int) -> None:
        import signal

        self.signum = signum
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
