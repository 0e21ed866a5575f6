"""The explainer's web server: the standard library's http.server, the page's three static
files and a JSON API over an Explainer.

    GET  /                  the page (static/index.html, explain.css, explain.js)
    GET  /api/model         the model's shape and the example prompt
    POST /api/tokens        {"prompt": text} or {"ids": [...]}        -> the tokens
    POST /api/attention     ... "layer", "head"                       -> a (T, T) map
    POST /api/lens          ... "position" (default last), "top"      -> guesses per depth
    POST /api/distribution  ... "temperature", "top_k", "top_p", "show" -> the next token
    POST /api/step          {"prompt"/"ids", "seed"} to start, {"session": n} to go on,
                            with "temperature", "top_k", "top_p"      -> one more token

Every answer is a JSON object; a mistake gets {"error": "one line that names it"} with status
400 (or 404, 405, 411, 413), and nothing else: a traceback goes to the server's terminal, never
to the browser. Requests are served in threads (a browser opens several connections at once);
the model runs for one request at a time.
"""
import errno
import json
import socket
import socketserver
import sys
import threading
import traceback
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from ...cli import describe
from .generation import Generation, Sessions

STATIC = Path(__file__).resolve().parent / "static"
PAGES = {"/": ("index.html", "text/html; charset=utf-8"),
         "/index.html": ("index.html", "text/html; charset=utf-8"),
         "/explain.css": ("explain.css", "text/css; charset=utf-8"),
         "/explain.js": ("explain.js", "text/javascript; charset=utf-8")}
# Only this server's own files: nothing from a CDN, no inline script (the page works offline)
SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:",
                    "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
MOST_BODY_BYTES = 1 << 20          # a request holds a prompt: a megabyte is plenty
TEXT = ("prompt", "ids")           # the fields that say which tokens a request is about
SAMPLING = ("temperature", "top_k", "top_p")


# What the user can change when the server cannot listen: the port if another program has it
# (or it is a privileged one), the host if it is not an address of this machine
CHOOSE_PORT = "; choose another --port (0 picks a free one)"
CHOOSE_HOST = ("; this machine has no such address: give --host one of its own (127.0.0.1, "
               "or 0.0.0.0 for all of them)")
LISTEN_HINTS = {errno.EADDRINUSE: CHOOSE_PORT, errno.EACCES: CHOOSE_PORT,
                errno.EADDRNOTAVAIL: CHOOSE_HOST}


class RequestError(Exception):
    """A request the API cannot take, with the HTTP status that says why."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class ExplainServer(ThreadingHTTPServer):
    """Serves the page and the API for `explainer` at (host, port); port 0 picks a free one.
    A port that is taken, or a host this machine cannot listen on, is an OSError naming it."""

    daemon_threads = True              # a browser's idle connection never blocks shutdown
    allow_reuse_port = False           # a second server on a taken port must fail, not share

    def __init__(self, explainer, host="127.0.0.1", port=0, log=None):
        self.explainer = explainer
        self.sessions = Sessions()
        self.model_lock = threading.Lock()
        self.log = log or sys.stderr   # where an internal error's traceback goes
        self.address_family = address_family(host, port)
        try:
            super().__init__((host, port), ExplainHandler)
        except OSError as error:
            raise OSError(f"cannot listen on {host_and_port(host, port)}: "
                          f"{error.strerror or error}{LISTEN_HINTS.get(error.errno, '')}"
                          ) from None

    def server_bind(self):
        # HTTPServer's own looks the host's full name up in DNS, which can take seconds
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):
            return              # the browser went away before its answer: nothing to tell
        super().handle_error(request, client_address)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{host_and_port(host, port)}/"


def address_family(host, port):
    """AF_INET or AF_INET6, whichever `host` names."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except (socket.gaierror, UnicodeError) as error:
        raise OSError(f"cannot listen on {host_and_port(host, port)}: "
                      f"{getattr(error, 'strerror', None) or error}") from None


def host_and_port(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ExplainHandler(BaseHTTPRequestHandler):
    server_version = "tinygpt-explain/1"

    def do_GET(self):
        path = urlsplit(self.path).path
        if path in PAGES:
            self.send_page(*PAGES[path])
        elif path == "/api/model":
            self.answer(lambda: self.server.explainer.describe())
        elif path in API:
            self.send_json(HTTPStatus.METHOD_NOT_ALLOWED,
                           {"error": f"{path} takes a POST with a JSON object"})
        else:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": not_found(path)})

    def do_POST(self):
        path = urlsplit(self.path).path
        route = API.get(path)
        if route is None:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": not_found(path)})
            return
        self.answer(lambda: route.run(self.server, path, self.read_json()))

    def refuse_method(self):
        self.send_json(HTTPStatus.METHOD_NOT_ALLOWED,
                       {"error": f"{self.command} is not served: GET the page, POST to the API"})

    do_PUT = do_DELETE = do_PATCH = refuse_method

    def answer(self, compute):
        """Send what compute() returns as JSON, or the error it raises as one line."""
        try:
            with self.server.model_lock:
                status, result = HTTPStatus.OK, compute()
        except RequestError as error:
            status, result = error.status, {"error": str(error)}
        except (ValueError, TypeError, FloatingPointError) as error:    # the request's mistake
            status, result = HTTPStatus.BAD_REQUEST, {"error": describe(error)}
        except MemoryError:
            status, result = HTTPStatus.INTERNAL_SERVER_ERROR, {
                "error": "out of memory: the text is too long for this model on this machine"}
        except Exception as error:          # a bug: the browser gets one line, the terminal all
            traceback.print_exc(file=self.server.log)
            status, result = HTTPStatus.INTERNAL_SERVER_ERROR, {
                "error": f"internal error ({type(error).__name__}: {describe(error)}); the "
                         f"server's terminal shows where"}
        self.send_json(status, result)

    def read_json(self):
        """The request's body: a JSON object."""
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, "the request has no Content-Length")
        if not length.isdigit():
            raise RequestError(HTTPStatus.BAD_REQUEST, f"Content-Length {length!r} is not a "
                                                       f"number of bytes")
        if int(length) > MOST_BODY_BYTES:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                               f"the request holds {int(length):,} bytes; at most "
                               f"{MOST_BODY_BYTES:,} are read")
        raw = self.rfile.read(int(length))
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise RequestError(HTTPStatus.BAD_REQUEST, f"the request body is not UTF-8 (byte "
                                                       f"{error.start})") from None
        except json.JSONDecodeError as error:
            raise RequestError(HTTPStatus.BAD_REQUEST,
                               f"the request body is not valid JSON: {error}") from None
        if not isinstance(body, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, 'the request body must be a JSON object, '
                                                       'such as {"prompt": "Hello"}')
        return body

    def send_page(self, name, content_type):
        """One of the page's files, read afresh each time (edit it, reload, see it)."""
        self.send(HTTPStatus.OK, (STATIC / name).read_bytes(), content_type)

    def send_json(self, status, result):
        # allow_nan=False: a NaN would be invalid JSON in the browser; better a 500 here
        try:
            body = json.dumps(result, allow_nan=False).encode("ascii")
        except ValueError as error:
            traceback.print_exc(file=self.server.log)
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            body = json.dumps({"error": f"internal error: {error}"}).encode("ascii")
        self.send(status, body, "application/json")

    def send(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        """Quiet: a class watching the terminal needs the URL, not a line per request."""


def not_found(path):
    return (f"nothing at {path[:100]}: the page is at /, the API at "
            f"{', '.join(sorted(API))} and /api/model")


# ----- the API -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    """An API path: the fields its JSON object may hold, and what answers it."""
    fields: tuple
    answer: object                      # answer(server, body) -> a dict for JSON

    def run(self, server, path, body):
        unknown = sorted(set(body) - set(self.fields))
        if unknown:
            raise ValueError(f"{path} has no field {unknown[0]!r}; its fields are "
                             f"{', '.join(self.fields)}")
        return self.answer(server, body)


def sequence_of(server, body):
    return server.explainer.sequence(body.get("prompt"), body.get("ids"))


def with_notes(sequence, answer):
    """An answer with the ids it is about and what was done to the input (cropping)."""
    return {**answer, "ids": list(sequence.ids), "notes": list(sequence.notes)}


def tokens(server, body):
    sequence = sequence_of(server, body)
    return with_notes(sequence, server.explainer.tokens(sequence))


def attention(server, body):
    sequence = sequence_of(server, body)
    return with_notes(sequence, server.explainer.attention(
        sequence, body.get("layer", 0), body.get("head", 0)))


def lens(server, body):
    sequence = sequence_of(server, body)
    return with_notes(sequence, server.explainer.lens(
        sequence, body.get("position"), body.get("top", 5)))


def distribution(server, body):
    sequence = sequence_of(server, body)
    return with_notes(sequence, server.explainer.distribution(
        sequence, body.get("temperature", 1.0), body.get("top_k"), body.get("top_p"),
        body.get("show", 20)))


def step(server, body):
    """One more token: of session `session`, or of a new one for prompt/ids (and seed)."""
    explainer = server.explainer
    sampling = [body.get(name, default) for name, default in zip(SAMPLING, (1.0, None, None))]
    if body.get("session") is not None:
        if any(field in body for field in (*TEXT, "seed")):
            raise ValueError("a session goes on from its own tokens and seed: give session "
                             "alone, or prompt/ids (and seed) without it to start a new one")
        number = body["session"]
        result = server.sessions.get(number).step(*sampling)
    else:
        sequence = sequence_of(server, body)
        # the whole text: next_logits crops it to the context, as generate does
        generation = Generation(explainer.model, [*sequence.dropped, *sequence.ids],
                                body.get("seed"))
        result = generation.step(*sampling)
        number = server.sessions.start(generation)      # only once its first step worked
    return {**result, "session": number, "token": explainer.token(result["token"]),
            "context": explainer.config.block_size}


API = {"/api/tokens": Route(TEXT, tokens),
       "/api/attention": Route((*TEXT, "layer", "head"), attention),
       "/api/lens": Route((*TEXT, "position", "top"), lens),
       "/api/distribution": Route((*TEXT, *SAMPLING, "show"), distribution),
       "/api/step": Route((*TEXT, "seed", "session", *SAMPLING), step)}
