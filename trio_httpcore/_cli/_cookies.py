"""``-b``/``-c``: cookies from a string or a Netscape cookie file, and the jar written afterwards.

As in curl, ``-b`` with an ``=`` in it is a ``Cookie`` field's value, sent
as is; without one it names a file to read (a missing or unreadable file is
ignored, as curl ignores it). ``-c FILE`` writes every cookie the run holds,
session cookies too, in the Netscape format curl and browsers share.
"""

from __future__ import annotations

from http.cookiejar import LoadError, MozillaCookieJar

from ._arguments import Options
from ._exits import CLIError, Exit


def cookie_jar(options: Options) -> MozillaCookieJar:
    """The run's jar, holding the cookies of every ``-b FILE``."""
    jar = MozillaCookieJar()
    for argument in options.cookie:
        if "=" in argument:
            continue
        try:
            jar.load(argument, ignore_discard=True, ignore_expires=True)
        except (OSError, LoadError):
            continue  # curl reads on without it
    for cookie in jar:
        if cookie.expires == 0:  # the file's "0": a session cookie, not one long expired
            cookie.expires, cookie.discard = None, True
    return jar


def cookie_field(options: Options) -> str | None:
    """The ``Cookie`` field of the ``-b NAME=VALUE`` arguments, or ``None``."""
    given = [argument for argument in options.cookie if "=" in argument]
    return "; ".join(given) if given else None


def save_cookies(jar: MozillaCookieJar, path: str) -> None:
    """``-c FILE``: write the jar; a file that can't be written is status 23."""
    try:
        jar.save(path, ignore_discard=True, ignore_expires=True)
    except OSError as exc:
        raise CLIError(Exit.WRITE, f"Failed to save cookies in {path}: {exc.strerror}") from exc
