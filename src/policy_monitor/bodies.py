"""Reading a response's body within bounds: gzip and deflate inflated in bounded pieces while the body
streams, stopping as soon as the decompressed size passes a cap; and the rest of a response nobody uses,
read so its connection can serve the next request."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from .decoding import BodyError, Inflater
from .reasons import size


async def read_body(response: httpx.Response, cap: int, truncate: bool = False) -> bytes:
    """Read and decompress the body, stopping as soon as it passes `cap` decompressed bytes.

    gzip and deflate (the encodings we ask for) are decompressed here in bounded pieces, because
    httpx inflates each network chunk in one go: a 1 MiB chunk of a gzip bomb would become 1 GiB.
    Any other encoding a server sends unasked goes through httpx's own decoders.
    With `truncate`, the first `cap` bytes are returned instead of refusing the body.
    """
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > cap:
        raise BodyError(f"body larger than {size(cap)} (Content-Length {size(int(declared), exact=False)})")
    encodings = [e.strip().lower() for e in response.headers.get("content-encoding", "").split(",") if e.strip()]
    encodings = [e for e in encodings if e != "identity"]
    parts: list[bytes] = []
    total = 0

    def take(pieces: Iterable[bytes]) -> bool:
        """Keep pieces until the cap; False once it is passed."""
        nonlocal total
        for piece in pieces:
            total += len(piece)
            if total > cap:
                if truncate:
                    parts.append(piece[: len(piece) - (total - cap)])
                    total = cap
                    return False
                raise BodyError(f"body larger than {size(cap)} (stopped at {size(total, exact=False)})", total)
            parts.append(piece)
        return True

    if not encodings or (len(encodings) == 1 and encodings[0] in ("gzip", "x-gzip", "deflate")):
        decoder = Inflater(encodings[0]) if encodings else None
        async for raw in response.aiter_raw():
            if not take(decoder.feed(raw) if decoder else (raw,)):
                return b"".join(parts)
        if decoder:
            take(decoder.finish())
    else:
        try:
            async for piece in response.aiter_bytes():
                if not take((piece,)):
                    return b"".join(parts)
        except httpx.DecodingError as exc:
            raise BodyError(f"could not decode the {', '.join(encodings)} body: {exc}", total) from None
    return b"".join(parts)


DRAIN = 64 * 1024  # an unused body up to this size is read, so its connection can serve the next request


async def drain(response: httpx.Response) -> None:
    """Read the rest of a response whose body we do not use (a 304, a redirect, an error page) when it is
    small: a connection is given back for the host's next request only once its response was read to the
    end; otherwise it is closed and the next request opens a new one."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > DRAIN:
        return
    seen = 0
    async for chunk in response.aiter_raw():
        seen += len(chunk)
        if seen > DRAIN:
            return
