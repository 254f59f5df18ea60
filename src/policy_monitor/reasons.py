"""Failures in words: the one-line reasons a failed check carries (`FetchResult.reason`), shared by the
HTTP fetcher and the browser renderer so both say the same thing the same way."""

from __future__ import annotations

import httpx


def describe_error(exc: httpx.TransportError) -> str:
    """One line for people from an httpx transport error."""
    text = str(exc)
    causes = [text]
    cause: BaseException | None = exc.__cause__ or exc.__context__
    while cause is not None and len(causes) < 6:
        causes.append(f"{type(cause).__name__} {cause}")
        cause = cause.__cause__ or cause.__context__
    everything = " ".join(causes).lower()
    if "reset" in everything:
        return "connection reset"
    if isinstance(exc, httpx.ConnectError):
        if "refused" in everything:
            return "connection refused"
        if "certificate" in everything or "ssl" in everything:
            return f"TLS error: {text}" if text else "TLS error"
        if "name or service" in everything or "nodename" in everything or "getaddrinfo" in everything:
            return "could not resolve the host name"
        return f"could not connect: {text}" if text else "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        if text.startswith("Invalid URL in location header"):  # httpx checks Location before we see it
            return "redirected to an invalid URL (" + text.split(":", 1)[-1].strip().rstrip(".") + ")"
        if "complete message body" in everything or "incomplete" in everything:
            return "connection closed before the body was complete"
        return "connection closed by the server without a response"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"invalid URL: {text}"
    return f"network error: {text}" if text else f"network error ({type(exc).__name__})"


def redirect_reason(chain: list[str], limit: int) -> str:
    if len(set(chain)) < len(chain):
        seen: list[str] = []
        for url in chain:
            if url not in seen:
                seen.append(url)
        loop = " -> ".join(seen[-3:])
        return f"redirect loop ({loop} -> ...), stopped after {limit} redirects"
    return f"too many redirects ({limit})"


def seconds(value: float) -> str:
    return f"{value:g}"


def size(n: int, exact: bool = True) -> str:
    """10485760 -> '10 MiB' (exact) / '10.0 MiB'."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            if exact and n % scale == 0:
                return f"{n // scale} {unit}"
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
