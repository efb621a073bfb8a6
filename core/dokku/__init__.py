"""Reading a Dokku server's on-disk state, for ``dokku:import``.

``envfile`` parses Dokku's ``ENV`` files, ``tree`` reads a server's apps (Dokku 0.20's
layout under ``/home/dokku`` and the property layout of current releases under
``/var/lib/dokku``) into plain records, and ``convert`` turns those records into Dockyard
properties, one store batch per app.
"""
