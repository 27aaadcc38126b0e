"""The admin console at ``/console/``: server-rendered pages for township staff and county IT.

Pages are Jinja templates rendered by Litestar, with htmx (vendored in ``static/``) for
the few places a page updates in part. A browser signs in for a session cookie
(:mod:`.sessions`); every form carries a token tied to it (:mod:`.csrf`). Pages take
the same guards as the API's routes, so a township's staff see their township only.
Chinese by default, English by a switch the browser remembers (:mod:`.middleware`).
"""
