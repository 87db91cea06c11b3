"""A small blocking HTTP client over ``wasi:http``, for ``crm-connector``
and ``reporter`` plugins (the host refuses HTTP in other worlds).

The host decides where a plugin may connect (the tenant's allowlist, no
private addresses) and caps time and response size; a refusal raises
:class:`HttpError` with the host's error code in the message
(``HttpRequestDenied`` for a host not in the allowlist)::

    from switchyard import http

    resp = http.get("https://crm.example.com/api/contacts?phone=%2B15550100") \\
        .header("authorization", "Bearer t0ken").send()
    if resp.status == 200:
        data = resp.json()
"""

import json as _json
from typing import Any, List, Optional, Tuple

from . import PluginError
from ._wit import Err, Ok, imports


class HttpError(PluginError):
    """The request could not be made or its response not read: a bad URL,
    the host's refusal, DNS, connection, timeout, a body over the limit, a
    body that is not the JSON expected."""


def encode_query_value(value: str) -> str:
    """Percent-encode a query value (RFC 3986 unreserved characters stay)."""
    out = []
    for b in value.encode():
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in "-_.~"):
            out.append(c)
        else:
            out.append("%{:02X}".format(b))
    return "".join(out)


def split_url(url: str) -> Tuple[str, str, str]:
    """``(scheme, authority, path_with_query)`` of an ``http(s)://`` URL."""
    if url.startswith("https://"):
        scheme, rest = "https", url[len("https://"):]
    elif url.startswith("http://"):
        scheme, rest = "http", url[len("http://"):]
    else:
        raise HttpError(f"invalid URL {url!r}: use http:// or https://")
    cut = [i for i in (rest.find("/"), rest.find("?")) if i >= 0]
    if cut and rest[min(cut)] == "?":
        raise HttpError(f"invalid URL {url!r}: a query needs a path (`/?…`)")
    i = min(cut) if cut else len(rest)
    authority, path = rest[:i], rest[i:] or "/"
    if not authority:
        raise HttpError(f"invalid URL {url!r}: no host")
    return scheme, authority, path


def _describe(code) -> str:
    """``ErrorCode_HttpRequestDenied()`` → ``HttpRequestDenied``."""
    name = type(code).__name__.split("_", 1)[-1]
    value = getattr(code, "value", None)
    return f"{name}({value})" if value is not None else name


class Response:
    """A response, its body read in full."""

    def __init__(self, status: int, headers: List[Tuple[str, bytes]], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def ok(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300

    def header(self, name: str) -> Optional[bytes]:
        """The first header called ``name`` (case-insensitive)."""
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def text(self) -> str:
        """The body as text (lossy UTF-8)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON."""
        try:
            return _json.loads(self.body)
        except ValueError as e:
            raise HttpError(f"HTTP response body is not JSON: {e}") from None

    def __repr__(self) -> str:
        return f"Response(status={self.status}, {len(self.body)} bytes)"


class Request:
    """A request being built; :meth:`send` sends it. 5 s timeout and a
    1 MiB body limit unless told otherwise (the host may cap both lower)."""

    def __init__(self, method: str, url: str):
        self.method = method.upper()
        self.url = url
        self.headers: List[Tuple[str, bytes]] = []
        self.body: Optional[bytes] = None
        self.timeout_ms = 5_000
        self.max_body_bytes = 1 << 20

    def header(self, name: str, value) -> "Request":
        """Add a header."""
        if isinstance(value, str):
            value = value.encode()
        self.headers.append((name.lower(), bytes(value)))
        return self

    def bearer(self, token: Optional[str]) -> "Request":
        """``Authorization: Bearer <token>`` when ``token`` is set."""
        return self.header("authorization", "Bearer " + token) if token else self

    def json(self, value: Any) -> "Request":
        """Send ``value`` as a JSON body."""
        self.body = _json.dumps(value, separators=(",", ":")).encode()
        return self.header("content-type", "application/json")

    def data(self, body: bytes) -> "Request":
        """Send raw bytes as the body."""
        self.body = bytes(body)
        return self

    def timeout(self, ms: int) -> "Request":
        """Connect, first-byte and between-bytes timeout."""
        self.timeout_ms = int(ms)
        return self

    def limit(self, max_body_bytes: int) -> "Request":
        """Refuse responses with a larger body."""
        self.max_body_bytes = int(max_body_bytes)
        return self

    def send(self) -> Response:
        """Send the request and read the whole response."""
        try:
            return self._send()
        except Err as e:
            raise HttpError(f"HTTP {self.method} {self.url} failed: {_describe(e.value)}") from None

    def _send(self) -> Response:
        t = imports("wasi_http_types")
        handler = imports("outgoing_handler")
        scheme, authority, path = split_url(self.url)

        fields = t.Fields.from_list(self.headers)
        req = t.OutgoingRequest(fields)
        method = {
            "GET": t.Method_Get, "HEAD": t.Method_Head, "POST": t.Method_Post,
            "PUT": t.Method_Put, "DELETE": t.Method_Delete,
            "OPTIONS": t.Method_Options, "PATCH": t.Method_Patch,
        }.get(self.method)
        req.set_method(method() if method else t.Method_Other(self.method))
        req.set_scheme(t.Scheme_Https() if scheme == "https" else t.Scheme_Http())
        req.set_authority(authority)
        req.set_path_with_query(path)
        body = req.body()

        options = t.RequestOptions()
        ns = self.timeout_ms * 1_000_000
        for setter in (options.set_connect_timeout, options.set_first_byte_timeout,
                       options.set_between_bytes_timeout):
            try:
                setter(ns)
            except Err:
                pass  # the host's own caps apply anyway
        future = handler.handle(req, options)

        # A request the host refuses (the allowlist) closes the body stream:
        # the response future then says why, which is the better message.
        body_error = None
        try:
            if self.body:
                with body.write() as out:
                    for i in range(0, len(self.body), 4096):
                        out.blocking_write_and_flush(self.body[i:i + 4096])
            t.OutgoingBody.finish(body, None)
        except Err as e:
            body_error = e.value

        with future:
            while True:
                got = future.get()
                if got is not None:
                    break
                with future.subscribe() as ready:
                    ready.block()
        if isinstance(got, Err):
            raise HttpError("HTTP response taken twice")
        got = got.value if isinstance(got, Ok) else got
        if isinstance(got, Err):
            raise HttpError(f"HTTP {self.method} {self.url} failed: {_describe(got.value)}")
        if body_error is not None:
            raise HttpError(
                f"HTTP {self.method} {self.url} failed sending the body: {_describe(body_error)}"
            )
        with (got.value if isinstance(got, Ok) else got) as resp:
            status = resp.status()
            with resp.headers() as h:
                headers = [(k, bytes(v)) for k, v in h.entries()]
            incoming = resp.consume()
            # The body (and its stream) go before the response, whatever
            # happens: wasi:http resources are dropped children first.
            with incoming:
                data = self._read(incoming)
        return Response(status, headers, data)

    def _read(self, incoming) -> bytes:
        streams = imports("streams")
        data = bytearray()
        with incoming.stream() as stream:
            while True:
                try:
                    chunk = stream.blocking_read(64 * 1024)
                except Err as e:
                    if isinstance(e.value, streams.StreamError_Closed):
                        return bytes(data)
                    raise HttpError(
                        "HTTP response body: " + e.value.value.to_debug_string()
                    ) from None
                data += chunk
                if len(data) > self.max_body_bytes:
                    raise HttpError(f"HTTP response larger than {self.max_body_bytes} bytes")


def get(url: str) -> Request:
    """A GET request."""
    return Request("GET", url)


def post(url: str) -> Request:
    """A POST request."""
    return Request("POST", url)


def put(url: str) -> Request:
    """A PUT request."""
    return Request("PUT", url)


def patch(url: str) -> Request:
    """A PATCH request."""
    return Request("PATCH", url)


def delete(url: str) -> Request:
    """A DELETE request."""
    return Request("DELETE", url)
