"""The chaos run's gate (bench/gate.py): relays while open; a cut resets what it
relayed and refuses new connections, as a dead emulator would; it opens again on the
same port."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from bench import env
from bench.gate import Gate


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def gate() -> Iterator[Gate]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", env.free_port()), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    made = Gate(env.free_port(), server.server_address[1], "test")
    made.open()
    try:
        yield made
    finally:
        made.close()
        server.shutdown()
        server.server_close()


def _connect(gate: Gate) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gate.listen_port), timeout=5)


def _echo(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    received = b""
    while len(received) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def _after_reset(sock: socket.socket) -> bool:
    """True if the peer reset the connection (a FIN would read as b"" instead)."""
    try:
        sock.sendall(b"anyone there?")
        sock.recv(16)
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


def test_relays_both_ways_while_open(gate: Gate) -> None:
    with _connect(gate) as sock:
        payload = bytes(range(256)) * 1000
        assert _echo(sock, payload) == payload


def test_cut_resets_open_connections_and_refuses_new_ones(gate: Gate) -> None:
    with _connect(gate) as sock:
        assert _echo(sock, b"ping") == b"ping"
        assert gate.cut() == 1
        assert _after_reset(sock)
    with pytest.raises(ConnectionRefusedError):
        _connect(gate)


def test_opens_again_on_the_same_port(gate: Gate) -> None:
    gate.cut()
    gate.open()
    with _connect(gate) as sock:
        assert _echo(sock, b"back") == b"back"


def test_upstream_down_is_a_reset_not_a_hang() -> None:
    made = Gate(env.free_port(), env.free_port(), "nothing-behind")
    made.open()
    try:
        try:
            sock = _connect(made)
        except ConnectionResetError:
            return  # reset while connecting (the gate was quicker than the handshake): a reset
        with sock:
            sock.settimeout(5)
            assert _after_reset(sock)
    finally:
        made.close()
