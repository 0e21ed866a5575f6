"""Driving headless Chromium from a test with nothing but the standard library: the browser
started with a DevTools port, a small WebSocket client (RFC 6455, text frames), and the
DevTools protocol's JSON messages over it (Runtime, Page, Input, Log, Emulation domains).

    with Chromium.start(executable) as browser:
        browser.navigate("http://127.0.0.1:8000/")
        browser.wait_for("document.body.dataset.state === 'ready'")
        browser.evaluate("document.querySelectorAll('.token').length")
        browser.type_text("Hello")
        browser.problems()          # JavaScript exceptions and console errors seen so far
"""
import base64
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

EXECUTABLES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-port=0")
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"      # RFC 6455, section 1.3
STARTUP_SECONDS = 60          # a bound for failing, never a measurement


def find_chromium():
    """The Chromium (or Chrome) executable: $TINYGPT_CHROMIUM, or the first on PATH; None."""
    named = os.environ.get("TINYGPT_CHROMIUM")
    if named:
        return named
    for name in EXECUTABLES:
        path = shutil.which(name)
        if path:
            return path
    return None


class WebSocket:
    """A client WebSocket that sends and receives whole text messages."""

    def __init__(self, url, timeout=60):
        assert url.startswith("ws://"), url
        host_port, _, path = url[len("ws://"):].partition("/")
        host, _, port = host_port.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        self.buffer = b""
        head = self.read_until(b"\r\n\r\n").decode("latin-1")
        status = head.split("\r\n", 1)[0]
        if " 101 " not in status + " ":
            raise ConnectionError(f"the DevTools WebSocket refused the upgrade: {status}")
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest())
        if accept.decode() not in head:
            raise ConnectionError("the DevTools WebSocket answered with a wrong accept key")

    def read_until(self, marker):
        while marker not in self.buffer:
            self.buffer += self.receive_some()
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def receive_some(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the browser closed the DevTools connection")
        return chunk

    def read_exactly(self, n):
        while len(self.buffer) < n:
            self.buffer += self.receive_some()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send(self, text, opcode=0x1):
        payload = text.encode() if isinstance(text, str) else text
        n = len(payload)
        if n < 126:
            length = struct.pack("!B", 0x80 | n)
        elif n < 1 << 16:
            length = struct.pack("!BH", 0x80 | 126, n)
        else:
            length = struct.pack("!BQ", 0x80 | 127, n)
        mask = os.urandom(4)                       # a client masks every frame it sends
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.sock.sendall(struct.pack("!B", 0x80 | opcode) + length + mask + masked)

    def receive(self):
        """The next whole text message (continuation frames joined; pings answered)."""
        pieces = []
        while True:
            first, second = self.read_exactly(2)
            fin, opcode, n = first & 0x80, first & 0x0F, second & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.read_exactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.read_exactly(8))[0]
            mask = self.read_exactly(4) if second & 0x80 else None
            payload = self.read_exactly(n)
            if mask:
                payload = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
            if opcode == 0x8:
                raise ConnectionError("the browser closed the DevTools connection")
            if opcode == 0x9:
                self.send(payload, opcode=0xA)
                continue
            if opcode in (0x0, 0x1, 0x2):
                pieces.append(payload)
                if fin:
                    return b"".join(pieces).decode()

    def close(self):
        self.sock.close()


class Chromium:
    """One headless browser with one page, driven through the DevTools protocol."""

    def __init__(self, process, profile, socket_):
        self.process, self.profile, self.ws = process, profile, socket_
        self.next_id = 0
        self.events = []                 # every event message, in order

    @classmethod
    def start(cls, executable):
        profile = tempfile.mkdtemp(prefix="tinygpt-chromium-")
        process = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={profile}",
                                    "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            port = cls.wait_for_port(process, Path(profile) / "DevToolsActivePort")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
                pages = [target for target in json.load(r) if target["type"] == "page"]
            browser = cls(process, profile, WebSocket(pages[0]["webSocketDebuggerUrl"]))
        except BaseException:
            process.kill()
            process.wait()
            shutil.rmtree(profile, ignore_errors=True)
            raise
        for domain in ("Runtime", "Page", "Log"):
            browser.call(f"{domain}.enable")
        return browser

    @staticmethod
    def wait_for_port(process, port_file):
        """The DevTools port, from the file Chromium writes once it listens."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"Chromium exited with status {process.returncode}: "
                                   f"{process.stderr.read().decode(errors='replace')[-2000:]}")
            if port_file.is_file():
                first_line = port_file.read_text().split("\n")[0].strip()
                if first_line.isdigit():
                    return int(first_line)
            time.sleep(0.05)
        raise TimeoutError(f"Chromium wrote no {port_file.name} in {STARTUP_SECONDS} s")

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        try:
            self.call("Browser.close")
        except (OSError, ConnectionError, RuntimeError):
            pass
        self.ws.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    # ----- the protocol -----------------------------------------------------------------------

    def call(self, method, **params):
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(f"{expression[:80]!r} threw: "
                               f"{details.get('exception', {}).get('description', details)}")
        return result["result"].get("value")

    def wait_for(self, expression, seconds=60):
        """Poll until the expression is truthy; its value. A TimeoutError after `seconds`
        (a bound for failing, not a measurement)."""
        deadline = time.monotonic() + seconds
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {seconds} s for {expression}; problems seen: "
                                   f"{self.problems()}")
            time.sleep(0.05)

    def navigate(self, url):
        """Open `url` and wait for its load event."""
        seen = len(self.events)
        result = self.call("Page.navigate", url=url)
        if "errorText" in result:
            raise RuntimeError(f"could not open {url}: {result['errorText']}")
        while not any(event["method"] == "Page.loadEventFired" for event in self.events[seen:]):
            message = json.loads(self.ws.receive())
            if "method" in message:
                self.events.append(message)

    def set_window(self, width, height):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.call("Emulation.setScrollbarsHidden", hidden=True)    # the page gets all `width`

    # ----- a user's hands ---------------------------------------------------------------------

    def press(self, key, code, key_code, text=""):
        """One key pressed and released, as a keyboard sends it."""
        down = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": key_code}
        if text:
            down["text"] = text
        self.call("Input.dispatchKeyEvent", **down)
        self.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=code,
                  windowsVirtualKeyCode=key_code)

    def type_text(self, text):
        """Type `text` into the focused element, a key at a time (Enter for a newline)."""
        for ch in text:
            if ch == "\n":
                self.press("Enter", "Enter", 13, "\r")
            else:
                self.press(ch, "", ord(ch.upper()) if ch.isalnum() else 0, ch)

    def centre(self, selector):
        """The middle of the element `selector` names, scrolled into view: {x, y}."""
        return self.evaluate(f"""(() => {{
            const element = document.querySelector({json.dumps(selector)});
            element.scrollIntoView({{block: "center"}});
            const r = element.getBoundingClientRect();
            return {{x: r.left + r.width / 2, y: r.top + r.height / 2}};
        }})()""")

    def click(self, selector):
        """A left click in the middle of the element `selector` names."""
        point = self.centre(selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, button="left", clickCount=1,
                      **point)

    def hover(self, selector):
        """The mouse moved over the middle of the element `selector` names."""
        self.call("Input.dispatchMouseEvent", type="mouseMoved", **self.centre(selector))

    def backspace(self):
        self.press("Backspace", "Backspace", 8)

    def screenshot(self):
        """The whole page (not only the window) as PNG bytes."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        result = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                           clip=clip)
        return base64.b64decode(result["data"])

    # ----- what went wrong --------------------------------------------------------------------

    def problems(self, since=0, network=False):
        """JavaScript exceptions and console errors seen since event number `since`, one line
        each; with network=True, failed requests too (a 400 answer is one)."""
        found = []
        for event in self.events[since:]:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append("exception: " + details.get("exception", {}).get(
                    "description", details.get("text", "")))
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                found.append("console.error: " + " ".join(
                    str(arg.get("value", arg.get("description", ""))) for arg in params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                if network or entry.get("source") != "network":
                    found.append(f"{entry.get('source')}: {entry.get('text')}")
        return found
