"""Bind a werkzeug server in the caller's thread; a bind that fails says why in one line.

werkzeug's ``make_server`` prints its own explanation of a failed bind to stderr (a paragraph for
a busy port) and calls ``sys.exit(1)``: the local stack and the console both keep its first line
and raise ``CannotListen`` instead, so each command can say it as its other errors.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

from werkzeug.serving import make_server


class CannotListen(OSError):
    """The address could not be bound (a busy port, a host that does not resolve): one line to show."""


def bound_server(host: str, port: int, app: Any, **options: Any) -> Any:
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            return make_server(host, port, app, **options)
    except (OSError, OverflowError, SystemExit) as error:
        reason = said.getvalue().strip().splitlines()[:1] or [getattr(error, "strerror", None) or str(error)]
        raise CannotListen(f"cannot listen on {host}:{port}: {reason[0]}") from None
