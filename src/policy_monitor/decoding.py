"""Reading a fetched body: gzip/deflate inflated in bounded pieces (so a bomb is stopped at the size cap,
not after it has filled memory), then bytes -> text: the charset from the byte-order mark, the Content-Type header, a
<meta> or XML declaration, UTF-8 when valid, else charset-normalizer's guess; undecodable bytes replaced.
Latin-1 and ASCII labels are read as windows-1252, as browsers do."""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Iterator

_TEXT_TYPES = ("text/", "application/xhtml", "application/xml", "application/json", "application/ld+json")


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.\-]+)""")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Labels that browsers read as windows-1252, which is what such pages really are (WHATWG Encoding).
_AS_WINDOWS_1252 = {"latin_1", "iso8859-1", "ascii", "cp1252"}


def decode(body: bytes, declared: str | None) -> str:
    """Decode a page: byte order mark, else the `declared` (Content-Type) charset, else a <meta> or XML
    declaration, else UTF-8 if the bytes are valid UTF-8, else charset-normalizer's guess. Bytes that do not
    decode become U+FFFD, so a broken page still yields text."""
    for bom, bom_encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(bom_encoding, errors="replace")
    encoding = codec(declared)
    if encoding is None:
        head = body[:8192]
        match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
        encoding = codec(match.group(1).decode("ascii") if match else None)
        if encoding and encoding.startswith("utf-16"):  # a page that can say so in ASCII is not UTF-16
            encoding = "utf-8"
    if encoding is None:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            import charset_normalizer  # rarely needed: most pages declare their charset or are UTF-8

            guess = charset_normalizer.from_bytes(body[: 256 * 1024]).best()
            encoding = codec(guess.encoding if guess else None) or "cp1252"
    return body.decode(encoding, errors="replace")


def codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return "cp1252" if name in _AS_WINDOWS_1252 else name


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def is_text(media_type: str | None) -> bool:
    return media_type is None or media_type.startswith(_TEXT_TYPES) or media_type.endswith(("+xml", "+json"))


def text_of(body: bytes, media_type: str | None, declared: str | None) -> str | None:
    """The body as text when its media type is textual (see `decode`), else None."""
    return decode(body, declared) if is_text(media_type) else None


_PIECE = 64 * 1024  # largest piece the decompressor hands out at once


class BodyError(Exception):
    """The body cannot be accepted; str() is the reason. Not retried."""

    def __init__(self, reason: str, nbytes: int = 0) -> None:
        super().__init__(reason)
        self.nbytes = nbytes


class Inflater:
    """gzip or deflate, handed out in pieces of at most _PIECE bytes however much the input expands."""

    def __init__(self, encoding: str) -> None:
        self.name = "gzip" if encoding in ("gzip", "x-gzip") else "deflate"
        self._wbits = 16 + zlib.MAX_WBITS if self.name == "gzip" else zlib.MAX_WBITS
        self._inflate = zlib.decompressobj(self._wbits)
        self._started = False  # some output produced or input accepted
        self._done = False  # one complete stream seen; anything after it that is not gzip is ignored

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._inflate.decompress(data, _PIECE)
            except zlib.error as exc:
                if self.name == "deflate" and not self._started and self._wbits > 0:
                    self._wbits = -zlib.MAX_WBITS  # "deflate" sent without its zlib header
                    self._inflate = zlib.decompressobj(self._wbits)
                    continue
                if self._done:
                    return
                raise BodyError(f"could not decompress the {self.name} body ({exc})") from None
            self._started = True
            if out:
                yield out
            if self._inflate.eof:
                self._done = True
                data = self._inflate.unused_data
                if data and self.name == "gzip":  # another gzip member follows
                    self._inflate = zlib.decompressobj(self._wbits)
                    continue
                return
            data = self._inflate.unconsumed_tail
            while not data and len(out) == _PIECE:  # output still pending inside zlib
                out = self._inflate.decompress(b"", _PIECE)
                if out:
                    yield out
                if self._inflate.eof:
                    self._done = True
                    return

    def finish(self) -> Iterator[bytes]:
        if self._started and not self._inflate.eof and not self._done:
            raise BodyError(f"the {self.name} body ends before its stream does (truncated)")
        return iter(())
