"""A loopback TCP proxy that misbehaves on demand, to put real network faults between the
kiosk and the platform: delay replies, swallow the reply after the platform answered, or
send the platform a copy of each request first (a replayed copy that wins the race)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class FaultyProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.mode = "pass"  # pass | drop_reply | delay | copy_first
        self.delay_s = 0.0
        self.drops = 0
        self.copies = 0
        self.requests = 0
        self._count = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop = True
        self.sock.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=30)
        except OSError:
            client.close()
            return
        if self.mode == "copy_first":
            self._copy_first(client, upstream)
            return
        threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
        self._pipe(upstream, client, True)

    def _copy_first(self, client: socket.socket, upstream: socket.socket) -> None:
        """Every other request on the way: the same bytes to the platform on a connection of
        their own first (its answer thrown away), then the original."""
        try:
            while (request := _read_message(client)) is not None:
                with self._count:
                    self.requests += 1
                    copied = self.requests % 2 == 1
                if copied:
                    with socket.create_connection(self.upstream, timeout=30) as copy:
                        copy.sendall(request)
                        _read_message(copy)
                    self.copies += 1
                upstream.sendall(request)
                reply = _read_message(upstream)
                if reply is None:
                    break
                client.sendall(reply)
        except OSError:
            pass
        finally:
            for s in (client, upstream):
                s.close()

    def _pipe(self, src: socket.socket, dst: socket.socket, is_reply: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if is_reply and self.mode == "drop_reply":
                    self.drops += 1  # the platform has committed and answered; lose it
                    break
                if is_reply and self.mode == "delay":
                    time.sleep(self.delay_s)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


def _read_message(sock: socket.socket) -> bytes | None:
    """One HTTP/1.1 message with a Content-Length body (or none); None at end of stream."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body
