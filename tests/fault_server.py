"""A tiny raw-socket HTTP/1.1 server for transport faults werkzeug cannot produce.

pytest-httpserver (werkzeug) always frames its answers properly; a connection dropped
mid-body, a chunked body without its last chunk, a body ended by the connection closing or
a stall during the body need a server that writes the bytes itself. `FaultServer` listens
on 127.0.0.1, reads one request per connection and writes a scripted answer, then closes:

- `script(path, *answers)`: answers for a path (percent-decoded, query ignored), used in
  turn, the last one repeating. An answer is a `Raw` (bytes to write, then an optional
  stall before closing), made with `respond`.
- a path with no script is served from `root` (if given), with Content-Length: a mirror.

Every request is recorded (`log`: the request line's target, as sent).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Raw:
    data: bytes
    stall: float = 0.0  # seconds to keep the connection open, silent, after `data`
    reset: bool = False  # end with a TCP reset (RST) instead of a clean close (FIN)


def respond(
    body: bytes,
    *,
    status: str = "200 OK",
    headers: dict[str, str] | None = None,
    cut: int | None = None,
    content_length: bool = True,
    chunked: bool = False,
    last_chunk: bool = True,
    stall: float = 0.0,
    reset: bool = False,
) -> Raw:
    """An answer carrying `body`; `cut` keeps only that many bytes of the (framed) body."""
    head = [
        f"HTTP/1.1 {status}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    if chunked:
        head.append("Transfer-Encoding: chunked")
        payload = b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + 1000]), body[i : i + 1000])
            for i in range(0, len(body), 1000)
        ) + (b"0\r\n\r\n" if last_chunk else b"")
    else:
        payload = body
        if content_length:
            head.append(f"Content-Length: {len(body)}")
    if cut is not None:
        payload = payload[:cut]
    return Raw(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload, stall, reset)


class FaultServer:
    def __init__(self, root: Path | None = None):
        self.root = root
        self.scripts: dict[str, list[Raw]] = {}
        self.log: list[str] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)  # accept() wakes up to notice stop()
        self.port = self._sock.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, path: str, *answers: Raw) -> None:
        self.scripts[path] = list(answers)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                data = conn.recv(65536)
                if not data:
                    return
                request += data
            target = request.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")
            self.log.append(target)
            answer = self._answer_for(unquote(urlsplit(target).path))
            try:
                conn.sendall(answer.data)
                if answer.stall:
                    time.sleep(answer.stall)
                if answer.reset:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client gave up first (a read timeout): nothing to do

    def _answer_for(self, path: str) -> Raw:
        queue = self.scripts.get(path)
        if queue:
            return queue.pop(0) if len(queue) > 1 else queue[0]
        if self.root is not None:
            target = (self.root / path.lstrip("/")).resolve()
            if target.is_relative_to(self.root.resolve()) and target.is_file():
                return respond(target.read_bytes())
        return respond(b"not found\n", status="404 Not Found")
