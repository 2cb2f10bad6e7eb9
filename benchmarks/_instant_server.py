"""An instant OpenAI-compatible server for the harness benchmark: it answers every chat request
at once with a streamed answer of `--chunks` events, so that what a run costs is the harness's
own work. Not a model and not a fault injector (tests/helpers/servers.py has those).

Run as its own process (its CPU must not count as the harness's): it prints its port on the
first line of stdout, counts the TCP connections and requests it serves, and answers
GET /stats with {"connections": N, "requests": M}. Requests are HTTP/1.1 with keep-alive.
"""

from __future__ import annotations

import argparse
import asyncio
import json

_TEXT = (
    "the quick answer covers what was asked and stays short so that every turn of the "
    "conversation is cheap for the server and the harness alike while still looking like text"
)


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _event(payload: object) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return _chunk(f"data: {text}\n\n".encode())


def streamed_answer(chunks: int) -> bytes:
    """The whole response (head and chunked body) of one streamed answer."""
    base = {"id": "chatcmpl-instant", "object": "chat.completion.chunk", "model": "instant"}

    def delta(content: dict[str, str], finish: str | None = None) -> bytes:
        return _event(
            {**base, "choices": [{"index": 0, "delta": content, "finish_reason": finish}]}
        )

    words = _TEXT.split()
    body = delta({"role": "assistant"})
    for number in range(chunks):
        body += delta({"content": words[number % len(words)] + " "})
    body += delta({}, "stop")
    usage = {"prompt_tokens": 100, "completion_tokens": chunks, "total_tokens": 100 + chunks}
    body += _event({**base, "choices": [], "usage": usage})
    body += _event("[DONE]") + _chunk(b"")
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    return head + body


def _json_response(payload: object) -> bytes:
    body = json.dumps(payload).encode()
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
    return head.encode() + b"\r\n\r\n" + body


class InstantServer:
    def __init__(self, chunks: int) -> None:
        self.answer = streamed_answer(chunks)
        self.connections = 0
        self.requests = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                if method == "POST" and path.endswith("/chat/completions"):
                    self.requests += 1
                    writer.write(self.answer)
                elif path.endswith("/stats"):
                    stats = {"connections": self.connections, "requests": self.requests}
                    writer.write(_json_response(stats))
                else:
                    writer.write(_json_response({"object": "list", "data": [{"id": "instant"}]}))
                await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=30)
    args = parser.parse_args()
    server = InstantServer(args.chunks)
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0, backlog=1024)
    print(listener.sockets[0].getsockname()[1], flush=True)
    async with listener:
        await listener.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
