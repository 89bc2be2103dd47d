"""A TCP proxy that damages a serial line: corrupts, drops, duplicates and delays bytes.

Sits between host.link and QEMU's serial socket. Faults are drawn per byte from a seeded
random generator per direction, so a run's fault pattern depends only on the seed and the
bytes sent (the timing of delays varies).
"""

from __future__ import annotations

import random
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class FaultRates:
    """Per-byte probabilities; delay: per forwarded chunk, up to max_delay_s seconds."""

    corrupt: float = 0.0
    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    max_delay_s: float = 0.05


@dataclass
class FaultCounts:
    corrupted: int = 0
    dropped: int = 0
    duplicated: int = 0
    delayed: int = 0
    bytes: int = 0


@dataclass
class FaultProxy:
    """Listen on a local port; on the first client, connect to ``upstream_port`` and pump."""

    upstream_port: int
    to_device: FaultRates = field(default_factory=FaultRates)
    to_host: FaultRates = field(default_factory=FaultRates)
    seed: int = 0

    def __post_init__(self) -> None:
        self.counts = {"to_device": FaultCounts(), "to_host": FaultCounts()}
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(1)
        self.port = int(self._server.getsockname()[1])
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def _damage(self, data: bytes, rates: FaultRates, rng: random.Random,
                counts: FaultCounts) -> bytes:
        out = bytearray()
        for b in data:
            counts.bytes += 1
            r = rng.random()
            if r < rates.drop:
                counts.dropped += 1
                continue
            r -= rates.drop
            if r < rates.corrupt:
                counts.corrupted += 1
                out.append(b ^ (1 << rng.randrange(8)))
                continue
            r -= rates.corrupt
            out.append(b)
            if r < rates.duplicate:
                counts.duplicated += 1
                out.append(b)
        return bytes(out)

    def _pump(self, src: socket.socket, dst: socket.socket, rates: FaultRates,
              rng: random.Random, counts: FaultCounts) -> None:
        try:
            while not self._stop.is_set():
                data = src.recv(4096)
                if not data:
                    break
                if rates.delay and rng.random() < rates.delay:
                    counts.delayed += 1
                    time.sleep(rng.uniform(0, rates.max_delay_s))
                dst.sendall(self._damage(data, rates, rng, counts))
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _serve(self) -> None:
        try:
            client, _ = self._server.accept()
        except OSError:
            return
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socks = [client, upstream]
        threads = [
            threading.Thread(target=self._pump, daemon=True, args=(
                client, upstream, self.to_device, random.Random(self.seed * 2 + 1),
                self.counts["to_device"])),
            threading.Thread(target=self._pump, daemon=True, args=(
                upstream, client, self.to_host, random.Random(self.seed * 2 + 2),
                self.counts["to_host"])),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def close(self) -> None:
        self._stop.set()
        for s in [self._server, *self._socks]:
            try:
                s.close()
            except OSError:
                pass
