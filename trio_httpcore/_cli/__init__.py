"""The ``trio-httpcore`` command line: a curl-like HTTP client on :class:`AsyncClient`.

``python -m trio_httpcore [options] URL`` (or the ``trio-httpcore`` script)
sends one request and writes the response body to stdout; flags, defaults and
exit statuses follow curl's. :func:`main` is the entry point; the modules
beside this one each hold one concern (arguments, bodies, output, verbose,
exit statuses, the run).
"""

from ._run import main

__all__ = ["main"]
