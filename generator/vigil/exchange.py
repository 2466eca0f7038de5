"""One HTTP exchange with a part of the stack (or the error tracker, or a Pushgateway): one deadline
for the whole of it, connect to last byte, so that a server trickling bytes cannot hang a command, and
one kind of error for every way it can go wrong. It imports nothing of vigil: every client uses it."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request

MAX_ANSWER = 64 << 20      # bytes: more is not an answer of these APIs
NOT_UP = "is the stack up? `make up`"


class Unreachable(Exception):
    """The part does not answer, or not with what its API answers."""


class Refused(Unreachable):
    """The part answered, with a status that is not a 2xx: `status`, and `said`, the start of its body."""

    def __init__(self, message: str, status: int, said: str):
        super().__init__(message)
        self.status, self.said = status, said


def exchange(req: urllib.request.Request, deadline: float, opener=urllib.request.urlopen) -> tuple[int, str, bytes]:
    """(status, content type, body) within `deadline` seconds for the whole exchange: the
    request runs in a worker thread, which per-read timeouts also bound."""
    result: list = []

    def work():
        try:
            with opener(req, timeout=deadline) as resp:
                result.append((resp.status, resp.headers.get("Content-Type", ""), resp.read(MAX_ANSWER + 1)))
        except urllib.error.HTTPError as e:      # an answer all the same: the caller judges it
            result.append((e.code, e.headers.get("Content-Type", ""), e.read(4096)))
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            result.append(e)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(deadline)
    if not result:
        raise Unreachable(f"{req.full_url}: no complete answer within {deadline:g}s ({NOT_UP})")
    if isinstance(result[0], BaseException):
        e = result[0]
        raise Unreachable(f"{req.full_url}: {getattr(e, 'reason', e)} ({NOT_UP})") from None
    status, kind, body = result[0]
    if len(body) > MAX_ANSWER:
        raise Unreachable(f"{req.full_url}: answer larger than {MAX_ANSWER >> 20} MiB: not the API's")
    return status, kind, body
