"""Reading `multipart/related` request bodies (RFC 2387 / RFC 2046) and Content-Type parameters, for
STOW-RS: FastAPI's form parsing takes only `multipart/form-data`."""

from __future__ import annotations

import re


class MultipartError(ValueError):
    """The body is not the `multipart/related` it says it is."""


def parse_content_type(header: str | None) -> tuple[str, dict[str, str]]:
    """(media type, parameters) of a Content-Type header; parameter names lower-cased."""
    if not header:
        return "", {}
    media, _, rest = header.partition(";")
    params: dict[str, str] = {}
    for match in re.finditer(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)\s*;?', rest):
        name, value = match.group(1).lower(), match.group(2).strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name] = value
    return media.strip().lower(), params


def multipart_parts(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """The parts of a multipart body (RFC 2046): (headers with lower-cased names, content)."""
    if not boundary or len(boundary) > 200:
        raise MultipartError("The multipart boundary is missing or too long.")
    delimiter = b"--" + boundary.encode("latin-1")
    # The body starts with the delimiter (a preamble before it is allowed and ignored).
    start = body.find(delimiter)
    if start < 0:
        raise MultipartError("The body holds no part with the declared boundary.")
    parts: list[tuple[dict[str, str], bytes]] = []
    position = start + len(delimiter)
    while True:
        if body[position : position + 2] == b"--":
            return parts  # the closing delimiter
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            raise MultipartError("The body ends inside a part.")
        position = line_end + 2
        next_delimiter = body.find(b"\r\n" + delimiter, position)
        if next_delimiter < 0:
            raise MultipartError("The body ends without its closing boundary.")
        raw = body[position:next_delimiter]
        head, separator, content = raw.partition(b"\r\n\r\n")
        if not separator:
            if raw.startswith(b"\r\n"):  # a part without headers
                head, content = b"", raw[2:]
            else:
                raise MultipartError("A part has no blank line after its headers.")
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        parts.append((headers, content))
        position = next_delimiter + 2 + len(delimiter)
