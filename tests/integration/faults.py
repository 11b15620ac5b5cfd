"""A TCP proxy that can cut the line: how tests make Firestore "go away" and come
back without losing the emulator's data (the emulator keeps it in memory)."""

from __future__ import annotations

import selectors
import socket
import threading
from contextlib import suppress


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to ``target``; ``cut()`` drops every connection and
    refuses new ones from then on."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._stop = threading.Event()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="cuttable-proxy", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cut(self) -> None:
        self._open.clear()
        with self._lock:
            for client, upstream in self._pairs:
                for sock in (client, upstream):
                    with suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
            self._pairs.clear()

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._thread.join(timeout=5)
        self._listener.close()

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ)
        while not self._stop.is_set():
            for _key, _ in selector.select(timeout=0.05):
                with suppress(BlockingIOError):
                    client, _ = self._listener.accept()
                    if not self._open.is_set():
                        client.close()  # "connection refused" as far as gRPC can tell
                        continue
                    self._bridge(client)

    def _bridge(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._target, timeout=5)
        except OSError:
            client.close()
            return
        with self._lock:
            self._pairs.append((client, upstream))
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        source.setblocking(True)
        while data := source.recv(65536):
            sink.sendall(data)
    for sock in (source, sink):
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
