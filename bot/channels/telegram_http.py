"""An aiohttp transport for python-telegram-bot (``BaseRequest``), used for sending.

PTB's default HTTPXRequest costs about 2 ms of CPU per call, which caps one process near 450 messages/s —
below the 1000/s of paid broadcasts. aiohttp (already installed with twilio) does the same work several
times faster. Semantics follow HTTPXRequest: timeouts → ``TimedOut``, transport errors → ``NetworkError``,
the status code and body are returned to PTB unchanged (PTB maps 4xx/5xx/retry_after to its errors).
Requests without files go as one JSON body; uploads as multipart. Trace hooks tell the rate limiter when
each request is written (``bot.outbox.ports.request_on_wire``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.outbox.ports import request_on_wire


class ConnectionLost(NetworkError):
    """The HTTP exchange broke without an answer (reset, disconnect). Whether the request was already written,
    the rate limiter's wire hook knows (``request_on_wire``): if it was, the message may have been delivered."""


async def _on_written(_session: Any, _ctx: Any, _params: Any) -> None:
    """The rate limiter counts this send from now (after connecting, not before).

    aiohttp buffers the headers and writes them together with the body's first chunk, from a task of its own
    that runs a loop turn later (Python < 3.12), so the body hook is the real write; the headers hook alone
    covers requests without a body. A second call only moves the send's slot later."""
    request_on_wire()


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300)
            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(_on_written)
            trace.on_request_chunk_sent.append(_on_written)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}, trace_configs=[trace]
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else None
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        write = self._write_timeout if not files else self._media_write_timeout
        if not isinstance(write_timeout, DefaultValue):
            write = write_timeout
        total = None
        if read is not None and write is not None:
            total = read + write + (connect or 0)
        timeout = aiohttp.ClientTimeout(total=total, connect=connect, sock_read=read)
        data: Any
        if files:
            form = aiohttp.FormData()
            for key, value in (request_data.json_parameters if request_data else {}).items():
                form.add_field(key, value)
            for key, file_value in files.items():
                if isinstance(file_value, tuple):
                    filename, content, mime = file_value
                    form.add_field(key, content, filename=filename, content_type=mime)
                else:
                    form.add_field(key, file_value)
            data = form
        elif request_data is not None and request_data.parameters:
            # One JSON body (the Bot API accepts application/json): cheaper than form-encoding each field.
            data = aiohttp.BytesPayload(
                json.dumps(request_data.parameters).encode(), content_type="application/json"
            )
        else:
            data = None
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as resp:
                return resp.status, await resp.read()
        except TimeoutError as err:
            raise TimedOut from err
        except asyncio.TimeoutError as err:  # noqa: UP041 - alias kept for older runtimes
            raise TimedOut from err
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError) as err:
            raise ConnectionLost(f"aiohttp.{err.__class__.__name__}: {err}") from err
        except aiohttp.ClientError as err:
            # The type only, and no chained cause: aiohttp's messages carry the URL, which holds the bot token.
            raise NetworkError(f"aiohttp.{err.__class__.__name__}") from None
