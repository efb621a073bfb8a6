"""An app's release history: every new running state is a numbered release (v1, v2, ...).

A release is what ran (image, process list, scale), with what environment (the app's own
``config`` scope at that moment), why (its description: ``Deploy IMAGE``, ``Set KEY``,
``Rollback to v3``), when, from which host and by whom, and how it ended: ``succeeded``
(it serves), ``superseded`` (it served until a newer one succeeded) or ``failed`` (with the
reason; the release before it kept serving).

Everything lives in the property store (plugin ``releases``, scope APP): key ``vN`` holds
one release as JSON, ``counter`` the last number given out, ``current`` the number of the
release that serves, ``kept-images`` the images the kept history needs. So export, backup,
restore and migrate carry the history, and a rollback works from a restored store.

The functions here only read the store and return operations: core/deploy.py writes a
succeeded release in the same atomic batch as the rest of the release switch (the release
is recorded exactly when traffic switched, or not at all), and the number is the one thing
written ahead, through the store's atomic ``update``, so two hosts deploying the same app
never get the same ``vN``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.core.errors import NotFound, ValidationError
from dockyard.core.lookup import computed_int
from dockyard.core.procfile import Processes
from dockyard.propstores.base import Delete, Op, PropertyStore, Put, Value

PLUGIN = "releases"
COUNTER = "counter"
CURRENT = "current"
#: the images of the kept releases, newest first; docker-local keeps these tags when it
#: prunes an app's old images (its driver reads this list by the same name)
KEPT_IMAGES = "kept-images"
RETENTION = "retention"
DEFAULT_RETENTION = 20
#: ``releases:set`` properties (Dokku's builds plugin has the same ``retention``)
PROPERTIES = (RETENTION,)

SUCCEEDED = "succeeded"
FAILED = "failed"
SUPERSEDED = "superseded"
#: the statuses of a release that served: a rollback may return to one of these
SERVED = (SUCCEEDED, SUPERSEDED)

_KEY_RE = re.compile(r"^v([1-9][0-9]*)$")
#: what ``releases:diff`` prints for a value unless ``--show-values``
MASK = "*****"


@dataclass(frozen=True)
class Release:
    """One release record, as stored (JSON under ``releases/APP/vN``)."""

    number: int
    image: str
    processes: dict[str, list[str] | None]
    env: dict[str, str]
    scale: dict[str, int]
    description: str
    created_at: str
    host: str
    user: str
    status: str
    reason: str = ""
    #: the id the instances carry (``DeployPlan.release``), to tell which release runs
    release_id: str = ""
    #: where the processes came from (core/deploy.py's ``processes-source``), restored by a rollback
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"v{self.number}"

    @property
    def process_list(self) -> Processes:
        """The processes as the rest of core takes them (commands as tuples)."""
        return {k: (tuple(v) if v is not None else None) for k, v in self.processes.items()}

    def _fields(self) -> dict[str, Any]:
        # by hand, not dataclasses.asdict: its deep copy was most of releases:list's time
        return {name: getattr(self, name) for name in _FIELDS}

    def to_json(self) -> str:
        data = {**self.extra, **self._fields()}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def as_dict(self, current: int | None = None, show_values: bool = False) -> dict[str, Any]:
        """Plain data for ``--format json``: the record, its name and whether it serves;
        environment values masked unless ``show_values`` (the output gets pasted around)."""
        data = self._fields()
        if not show_values:
            data["env"] = {k: MASK for k in self.env}
        data["name"] = self.name
        data["current"] = self.number == current
        return data

    @classmethod
    def from_json(cls, text: str) -> Release:
        data = json.loads(text)
        # fields a newer Dockyard wrote are kept, not dropped, when this one rewrites the record
        extra = {k: v for k, v in data.items() if k not in _KNOWN}
        return cls(**{k: v for k, v in data.items() if k in _KNOWN}, extra=extra)


#: the stored fields of a Release (``extra`` holds the ones this version does not know)
_FIELDS = tuple(f for f in Release.__dataclass_fields__ if f != "extra")
_KNOWN = frozenset(_FIELDS)


# ---- names and numbers -------------------------------------------------------------
def key_of(number: int) -> str:
    return f"v{number}"


def parse_name(text: str) -> int:
    """``v3`` or ``3`` -> 3; anything else is refused, naming what was given."""
    match = _KEY_RE.match(text if text.startswith("v") else f"v{text}")
    if not match:
        raise ValidationError(f"invalid release {text!r}: expected vN (v1, v2, ...)")
    return int(match.group(1))


def allocate(store: PropertyStore, app: str) -> int:
    """The next release number of ``app``, taken atomically (the store's compare-and-set).

    Taken before the rollout starts, so a failed release has its number too; a number whose
    deploy was killed before it recorded anything is simply never used (a gap, as Heroku's)."""
    def bump(current: Value | None) -> Value:
        last = int(current) if isinstance(current, str) and current.isdigit() else 0
        return str(last + 1)

    taken = store.update(PLUGIN, app, COUNTER, bump)
    assert isinstance(taken, str)
    return int(taken)


def who() -> tuple[str, str]:
    """(host, user) of the process recording a release."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry and no LOGNAME/USER (a bare container)
        user = os.environ.get("USER", "") or "unknown"
    return socket.gethostname(), user


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def app_config(store: PropertyStore, app: str) -> dict[str, str]:
    """The app's own environment (its ``config`` scope, not the global one): what a release
    snapshots and a rollback restores. Global config stays global: a rollback does not
    rewrite what other apps share."""
    return {k: v for k, v in sorted(store.get_all("config", app).items()) if isinstance(v, str)}


def new_release(number: int, *, image: str, processes: Processes, env: Mapping[str, str],
                scale: Mapping[str, int], description: str, release_id: str, source: str = "") -> Release:
    host, user = who()
    return Release(
        number=number, image=image,
        processes={k: list(v) if v is not None else None for k, v in sorted(processes.items())},
        env=dict(sorted(env.items())), scale=dict(sorted(scale.items())), description=description,
        created_at=now(), host=host, user=user, status=SUCCEEDED, release_id=release_id, source=source,
    )


# ---- reading -----------------------------------------------------------------------
def list_releases(store: PropertyStore, app: str) -> list[Release]:
    """Every kept release of ``app``, newest first. One scan of the app's ``releases`` scope."""
    found: list[Release] = []
    for prop in store.iter_properties(PLUGIN, app):
        match = _KEY_RE.match(prop.key)
        if match and prop.value is not None:
            found.append(Release.from_json(prop.value))
    found.sort(key=lambda r: r.number, reverse=True)
    return found


def get_release(store: PropertyStore, app: str, number: int) -> Release:
    text = store.get(PLUGIN, app, key_of(number))
    if text is None:
        raise NotFound(f"app {app} has no release v{number}" + _pruned_note(store, app, number))
    return Release.from_json(text)


def _pruned_note(store: PropertyStore, app: str, number: int) -> str:
    counter = store.get(PLUGIN, app, COUNTER)
    if counter and counter.isdigit() and number <= int(counter):
        return " (pruned by retention, or a deploy that never finished)"
    return ""


def current_number(store: PropertyStore, app: str) -> int | None:
    text = store.get(PLUGIN, app, CURRENT)
    return parse_name(text) if text else None


def retention(store: PropertyStore, app: str) -> int:
    """Releases kept per app: the app's ``retention``, else the global one, else 20."""
    return computed_int(store, PLUGIN, app, RETENTION, DEFAULT_RETENTION, minimum=1)


def validate_retention(prop: str, value: str) -> None:
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 10_000):
        raise ValidationError(f"invalid {prop} {value!r}: a whole number of releases from 1 to 10000")


def rollback_target(store: PropertyStore, app: str, number: int | None = None) -> Release:
    """The release a rollback returns to: ``number``, else the newest release before the
    current one that served (succeeded, or superseded by a later one). A failed release is
    refused: it never served, so there is nothing known-good to return to."""
    current = current_number(store, app)
    if number is not None:
        target = get_release(store, app, number)
        if target.status not in SERVED:
            raise ValidationError(f"cannot roll back {app} to v{number}: that release {target.status}"
                                  f"{': ' + target.reason if target.reason else ''}")
        if number == current:
            raise ValidationError(f"v{number} is the current release of {app}; nothing to roll back")
        return target
    for release in list_releases(store, app):
        if release.status in SERVED and (current is None or release.number < current):
            return release
    raise NotFound(f"app {app} has no earlier release to roll back to")


# ---- writing (as operations, for the caller's batch) ----------------------------------
def succeeded_ops(store: PropertyStore, app: str, release: Release) -> list[Op]:
    """``release`` serves now: store it, mark the one it replaces superseded, make it current,
    and prune the history beyond the app's retention (never the new current one). Returned
    as operations so the caller applies them with the rest of the release switch."""
    ops: list[Op] = [Put(PLUGIN, app, key_of(release.number), release.to_json()),
                     Put(PLUGIN, app, CURRENT, release.name)]
    kept = [release]
    for old in list_releases(store, app):
        if old.number == release.number:
            continue
        if old.status == SUCCEEDED:  # one release serves at a time: this one did until now
            old = replace(old, status=SUPERSEDED)
            ops.append(Put(PLUGIN, app, key_of(old.number), old.to_json()))
        kept.append(old)
    return ops + _prune_ops(store, app, kept, release.number)


def failed_ops(store: PropertyStore, app: str, release: Release, reason: str) -> list[Op]:
    """``release`` did not take over (its checks or the switch failed, or it was
    interrupted): kept in the history with the reason, the current release unchanged."""
    failed = replace(release, status=FAILED, reason=reason.strip())
    kept = [failed] + [r for r in list_releases(store, app) if r.number != release.number]
    kept.sort(key=lambda r: r.number, reverse=True)
    return [Put(PLUGIN, app, key_of(release.number), failed.to_json()),
            *_prune_ops(store, app, kept, current_number(store, app))]


def _prune_ops(store: PropertyStore, app: str, kept_newest_first: Sequence[Release],
               serving: int | None) -> list[Op]:
    """Deletes of the releases beyond retention (never ``serving``, the current one), and the
    list of images the remaining ones need, which docker-local protects from its image cleanup."""
    limit = retention(store, app)
    keep = [r for i, r in enumerate(kept_newest_first) if i < limit or r.number == serving]
    kept_numbers = {r.number for r in keep}
    ops: list[Op] = [Delete(PLUGIN, app, key_of(r.number)) for r in kept_newest_first
                     if r.number not in kept_numbers]
    images = _unique(r.image for r in keep if r.status in SERVED)
    ops.append(Put(PLUGIN, app, KEPT_IMAGES, images) if images else Delete(PLUGIN, app, KEPT_IMAGES))
    return ops


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def config_restore_ops(store: PropertyStore, app: str, env: Mapping[str, str]) -> list[Op]:
    """Operations that make the app's ``config`` scope exactly ``env`` (a rollback's
    snapshot), for the same batch as the release they belong to."""
    now_env = app_config(store, app)
    ops: list[Op] = [Delete("config", app, k) for k in now_env if k not in env]
    ops += [Put("config", app, k, v) for k, v in env.items() if now_env.get(k) != v]
    return ops


# ---- comparing ---------------------------------------------------------------------
def diff(old: Release, new: Release, show_values: bool = False) -> dict[str, Any]:
    """What changed from ``old`` to ``new``: image, processes, scale, and the env keys added,
    removed and changed. Values are masked unless ``show_values``: a diff is pasted into
    tickets and chats, and the environment holds secrets."""
    def shown(value: str) -> str:
        return value if show_values else MASK

    def changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
        return {k: {"from": a.get(k), "to": b.get(k)} for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}

    env_a, env_b = old.env, new.env
    return {
        "from": old.name,
        "to": new.name,
        "image": {"from": old.image, "to": new.image} if old.image != new.image else None,
        "processes": changes(old.processes, new.processes),
        "scale": changes(old.scale, new.scale),
        "env": {
            "added": {k: shown(env_b[k]) for k in sorted(set(env_b) - set(env_a))},
            "removed": {k: shown(env_a[k]) for k in sorted(set(env_a) - set(env_b))},
            "changed": {k: {"from": shown(env_a[k]), "to": shown(env_b[k])}
                        for k in sorted(set(env_a) & set(env_b)) if env_a[k] != env_b[k]},
        },
    }

