"""Hostile bodies for parser and fetcher tests: entity bombs, XXE, malformed XML, decompression bombs.

Every constant is plain bytes; the large bodies are made lazily (a generator) or built once cheaply
and cached, so nothing here ever holds the inflated gigabyte in memory.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Iterator

import brotli

MIB = 1 << 20
GIB = 1 << 30

_HEAD = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    b"<title>Hostile</title><link>http://hostile.invalid/</link><description>d</description>\n"
)
_TAIL = b"</channel></rss>\n"


def _entity_bomb(levels: int, fan_out: int) -> bytes:
    """An internal-DTD document whose `&lol<levels>;` expands to fan_out**levels copies of "lol"."""
    defs = ['<!ENTITY lol0 "lol">']
    for level in range(1, levels + 1):
        defs.append(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * fan_out}">')
    doctype = "<!DOCTYPE rss [\n  " + "\n  ".join(defs) + "\n]>\n"
    body = (
        f'<rss version="2.0"><channel><title>&lol{levels};</title><link>http://hostile.invalid/</link>'
        f"<description>d</description><item><title>&lol{levels};</title></item></channel></rss>\n"
    )
    return b'<?xml version="1.0"?>\n' + doctype.encode() + body.encode()


#: Exponential entity expansion: 10**9 "lol"s (3 GB) from under 1 KB of XML.
BILLION_LAUGHS = _entity_bomb(levels=9, fan_out=10)

#: Quadratic blowup: one 10 KB entity referenced 10,000 times (100 MB) — no nesting to detect.
QUADRATIC_BLOWUP = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY big "' + b"A" * 10_000 + b'">]>\n'
    b'<rss version="2.0"><channel><title>q</title><link>http://hostile.invalid/</link>'
    b"<description>" + b"&big;" * 10_000 + b"</description></channel></rss>\n"
)

#: Classic XXE: an external general entity pointing at a local file, used in title and text.
XXE_FILE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b'<rss version="2.0"><channel><title>XXE &xxe;</title><link>http://hostile.invalid/</link>'
    b"<description>&xxe;</description><item><title>leak</title><description>&xxe;</description>"
    b"<guid>xxe-1</guid></item></channel></rss>\n"
)

#: XXE through a parameter entity that declares the external general entity `&leak;`.
XXE_PARAMETER = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n'
    b"  <!ENTITY % decl \"<!ENTITY leak SYSTEM 'file:///etc/passwd'>\">\n  %decl;\n]>\n"
    b'<rss version="2.0"><channel><title>XXE</title><link>http://hostile.invalid/</link>'
    b"<description>&leak;</description><item><title>&leak;</title><guid>xxe-2</guid></item>"
    b"</channel></rss>\n"
)

#: Not well-formed: a bare ampersand, an undefined entity, unclosed and mismatched tags, truncated.
MALFORMED_XML = (
    b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Broken & bad &nbsp;</title>'
    b"<item><title>unclosed<description>text</item></chan"
)

#: A feed encoded as windows-1252 with no encoding declaration (so XML says UTF-8): serve it with
#: `charset=utf-8` to get a header and bytes that disagree.
WRONG_CHARSET_FEED = (
    '<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Café “quotes” naïve</title>'
    "<link>http://hostile.invalid/</link><description>façade — €5</description>"
    "<item><title>Crème brûlée</title><guid>cp1252-1</guid></item></channel></rss>\n"
).encode("cp1252")


def xxe_external_dtd(dtd_url: str) -> bytes:
    """An XXE that makes the parser fetch `dtd_url` (a parameter entity); check the log stays empty."""
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{dtd_url}"> %remote;]>\n'
        '<rss version="2.0"><channel><title>remote DTD</title><link>http://hostile.invalid/</link>'
        "<description>d</description></channel></rss>\n"
    ).encode()


def xml_flood(size: int, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """Yield exactly `size` bytes of well-formed RSS, re-yielding one shared block (constant memory)."""
    if size < len(_HEAD) + len(_TAIL):
        raise ValueError(f"xml_flood size must be at least {len(_HEAD) + len(_TAIL)} bytes")
    item = (
        b"<item><title>Flood item</title><link>http://hostile.invalid/item</link><description>"
        + b"x" * 400
        + b"</description></item>\n"
    )
    block = item * max(1, chunk_size // len(item))
    yield _HEAD
    remaining = size - len(_HEAD) - len(_TAIL)
    while remaining >= len(block):
        yield block
        remaining -= len(block)
    if remaining:
        yield b" " * remaining
    yield _TAIL


def _raw_deflate_unit(data: bytes) -> bytes:
    """Deflate `data` as a self-contained, byte-aligned, non-final run of blocks (concatenable)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush(zlib.Z_FULL_FLUSH)


@functools.cache
def gzip_bomb(inflated: int = GIB) -> bytes:
    """A valid gzip member (~1 KB per inflated MiB) of an RSS head plus at least `inflated` spaces.

    Built from one deflated MiB repeated, so it costs ~0.2 s (for the CRC) and ~1 MB, once per size.
    """
    unit = b" " * MIB
    count = -(-max(inflated - len(_HEAD), 0) // MIB)
    crc = zlib.crc32(_HEAD)
    for _ in range(count):
        crc = zlib.crc32(unit, crc)
    total = len(_HEAD) + count * MIB
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    final_block = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    trailer = struct.pack("<II", crc, total & 0xFFFFFFFF)
    deflated = _raw_deflate_unit(_HEAD) + _raw_deflate_unit(unit) * count + final_block
    return header + deflated + trailer


@functools.cache
def brotli_bomb(inflated: int = GIB) -> bytes:
    """A brotli stream of an RSS head plus at least `inflated` spaces (~0.1 s, ~200 KB, cached)."""
    unit = b" " * (4 * MIB)
    comp = brotli.Compressor(quality=1, lgwin=24)
    parts = [comp.process(_HEAD)]
    parts.extend(comp.process(unit) for _ in range(-(-max(inflated - len(_HEAD), 0) // len(unit))))
    parts.append(comp.finish())
    return b"".join(parts)
