"""A TCP proxy of the fault suite's own, put between a service and PostgreSQL.

`stall()` stops forwarding bytes while every socket stays open (a network that silently drops
traffic, a server stuck on a lock), `resume()` lets the held bytes through, and `reset()` closes
every live connection with an RST (SO_LINGER 0), as a firewall or a failing load balancer does.
`outage()` is a server going away and coming back: every connection reset, new ones refused
(the port closed) for a while, then accepted again on the same port.
`cut_request(api_key)` resets every connection when one sends a Kafka request of that type (a
SyncGroup in the middle of a group join, say) before the broker sees it. It counts connections,
bytes, bytes that arrived while stalled, the resets it sent and its cuts, so a test can prove
the fault it injected really happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field


@dataclass
class ProxyStats:
    """What passed through the proxy."""

    connections: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    bytes_held: int = 0
    resets: int = 0
    stalls: int = 0
    outages: int = 0
    cuts: int = 0


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `upstream_host`:`upstream_port`."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.port = 0
        self.stats = ProxyStats()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._links: set[_Link] = set()
        self._cut_api_key: int | None = None
        self._server: asyncio.Server | None = None

    @property
    def live_connections(self) -> int:
        """Connections open now."""
        return len(self._links)

    async def start(self, port: int = 0) -> TcpProxy:
        """Listens on `port` of 127.0.0.1 (a free one by default; the same again after `stop`)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Closes the listener and every connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for link in list(self._links):
            await self._close(link, rst=False)

    def stall(self) -> None:
        """Stops forwarding: bytes are read and held, no socket is closed."""
        self.stats.stalls += 1
        self._flowing.clear()

    def resume(self) -> None:
        """Forwards again, the held bytes first."""
        self._flowing.set()

    def cut_request(self, api_key: int) -> None:
        """Resets, with an RST, every connection once a client sends a Kafka request with this
        api key (a frame is a 4-byte size, then the 2-byte api key), before it is forwarded.

        Looks at the start of what each read returns: a client's small requests arrive whole.
        """
        self._cut_api_key = api_key

    def _cuts(self, data: bytes) -> bool:
        if self._cut_api_key is None or len(data) < 6:
            return False
        if int.from_bytes(data[4:6], "big") != self._cut_api_key:
            return False
        self._cut_api_key = None
        self.stats.cuts += 1
        return True

    async def reset(self) -> int:
        """Closes every live connection, both sides, with an RST; returns how many."""
        links = list(self._links)
        for link in links:
            await self._close(link, rst=True)
        self.stats.resets += len(links)
        return len(links)

    async def outage(self, seconds: float) -> int:
        """Resets every connection and refuses new ones for `seconds`, then listens again on
        the same port; returns how many connections were reset."""
        self.stats.outages += 1
        if self._server is not None:
            self._server.close()
        reset = await self.reset()
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(seconds)
        await self.start(self.port)
        return reset

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            writer.transport.abort()
            return
        self.stats.connections += 1
        link = _Link(writer, up_writer)
        self._links.add(link)
        link.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, link, up=True)),
            asyncio.create_task(self._pump(up_reader, writer, link, up=False)),
        ]

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link, *, up: bool
    ) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if not self._flowing.is_set():
                    self.stats.bytes_held += len(data)
                    await self._flowing.wait()
                if up and self._cuts(data):
                    await self.reset()  # every connection, as the soak's broker reset does
                    return
                writer.write(data)
                await writer.drain()
                if up:
                    self.stats.bytes_up += len(data)
                else:
                    self.stats.bytes_down += len(data)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if link in self._links:
                await self._close(link, rst=False)

    async def _close(self, link: _Link, *, rst: bool) -> None:
        self._links.discard(link)
        current = asyncio.current_task()
        for task in link.tasks:
            if task is not current:
                task.cancel()
        for writer in (link.client, link.upstream):
            sock = writer.get_extra_info("socket")
            if rst and sock is not None:
                # Linger on, timeout 0: close() sends an RST instead of a FIN.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
