"""An offline base image for driver tests: Debian's static busybox, ``docker import``ed.

Nothing can be pulled on a test machine, and every driver's conformance fixtures need an
image whose ``httpd`` serves a page, so Dockyard's own tests, its benchmarks and an
out-of-tree scheduler's tests (``plugins/dockyard-swarm``) all build it here.
"""

from __future__ import annotations

import io
import tarfile
from typing import Any

BUSYBOX = "/bin/busybox"
#: the busybox applets the tests' processes call, linked into /bin
APPLETS = (
    "sh", "ash", "httpd", "nc", "sleep", "cat", "echo", "env", "wget", "ls", "true", "false",
    "mkdir", "printf", "hostname", "ps", "kill", "test", "[", "grep", "id", "date", "seq", "head",
    "tail", "rm", "cp", "mv", "touch", "nslookup", "ping", "sed", "tr", "wc", "timeout", "uname",
)


def base_image_tar(busybox: str = BUSYBOX, page: str = "hello from dockyard\n") -> bytes:
    """A root filesystem with busybox and its applets, and ``/www/index.html`` holding
    ``page``, as a tar for ``docker import``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "www", "etc", "app"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type = tarfile.SYMTYPE
            info.linkname = "busybox"
            tar.addfile(info)
        for name, text in (("etc/passwd", "root:x:0:0:root:/:/bin/sh\n"), ("etc/group", "root:x:0:\n"),
                           ("www/index.html", page)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def import_base_image(client: Any, repository: str, tag: str, label: str, busybox: str = BUSYBOX,
                      page: str = "hello from dockyard\n") -> str:
    """``docker import`` of that filesystem through docker-py ``client``, labelled ``label``
    (``KEY=VALUE``, so a test session finds and removes what it made); ``repository:tag``."""
    client.api.import_image_from_data(
        base_image_tar(busybox, page), repository=repository, tag=tag,
        changes=["ENV PATH=/bin", 'CMD ["sh"]', "WORKDIR /", f"LABEL {label}"],
    )
    return f"{repository}:{tag}"
