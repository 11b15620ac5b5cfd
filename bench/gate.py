"""A TCP gate between the backend and one emulator, which the chaos run closes at once.

The backend is pointed at the gate's port, the gate relays every connection to the
emulator's port. ``cut()`` stops listening and resets every open connection (RST, as
when the peer process dies), so from that instant no byte of the backend reaches the
emulator: whatever the emulator had committed then is all it will ever have from
before the outage, and an export taken after the cut holds every write the backend
could have acknowledged. ``open()`` listens again on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: SO_LINGER on, 0 s: ``close()`` sends RST instead of FIN.
_RESET = struct.pack("ii", 1, 0)


class Gate:
    """Relays ``127.0.0.1:listen_port`` to ``127.0.0.1:target_port`` while open."""

    def __init__(self, listen_port: int, target_port: int, name: str) -> None:
        self.listen_port = listen_port
        self.target_port = target_port
        self.name = name
        self.connections = 0  # accepted since start, for the report
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"gate-{name}")
        self._thread.daemon = True
        self._thread.start()

    # --- control (any thread) ---------------------------------------------------------

    def open(self) -> None:
        """Listen on ``listen_port`` (again); returns once it accepts."""
        self._call(self._open())

    def cut(self) -> int:
        """Stop listening and reset every relayed connection; returns how many were open."""
        return self._call(self._cut())

    @property
    def is_open(self) -> bool:
        return self._server is not None

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    # --- the loop ---------------------------------------------------------------------

    async def _open(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._relay, "127.0.0.1", self.listen_port, reuse_address=True
            )

    async def _cut(self) -> int:
        if self._server is not None:
            self._server.close()
            self._server = None
        writers, self._writers = list(self._writers), set()
        for writer in writers:
            _reset(writer)
        return len(writers) // 2

    async def _relay(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        if self._server is None:  # accepted just before a cut
            _reset(client)
            return
        self._writers.add(client)
        try:
            upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            _reset(client)  # the emulator is not there: the backend sees a reset, not a hang
            self._writers.discard(client)
            return
        if client not in self._writers:  # cut while connecting
            _reset(upstream)
            return
        self._writers.add(upstream)
        await asyncio.gather(
            _pump(client_reader, upstream), _pump(upstream_reader, client), return_exceptions=True
        )
        for writer in (client, upstream):
            self._writers.discard(writer)
            writer.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction; pass an end of stream on as a half-close, a reset as a reset."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        _reset(writer)
        raise
    if not writer.transport.is_closing() and writer.can_write_eof():
        writer.write_eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    if writer.transport.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    writer.transport.abort()
