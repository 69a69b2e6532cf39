"""A slow SMTP relay for bench/workers.py: accepts every message after a fixed delay.

    python bench/_relay.py DELAY_SECONDS

Prints ``PORT n`` and serves on 127.0.0.1 until stdin closes; then prints one JSON line: the
messages it accepted as ``[recipient, Message-ID, accepted-at]`` triples. It is a minimal asyncio
server (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) rather than aiosmtpd, whose own CPU (about 300
messages/s here) would otherwise be the limit this benchmark measures.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


async def main(delay: float) -> None:
    accepted: list[tuple[str, str, float]] = []

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 relay ESMTP\r\n")
        recipient = ""
        try:
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250-relay\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n")
                elif verb == b"MAIL":
                    recipient = ""
                    writer.write(b"250 OK\r\n")
                elif verb == b"RCPT":
                    recipient = line.split(b"<", 1)[-1].split(b">", 1)[0].decode()
                    writer.write(b"250 OK\r\n")
                elif verb == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    await writer.drain()
                    body = await reader.readuntil(b"\r\n.\r\n")
                    await asyncio.sleep(delay)
                    found = MESSAGE_ID.search(body[:20000])
                    message_id = found.group(1).decode() if found else ""
                    accepted.append((recipient, message_id, time.monotonic()))
                    writer.write(b"250 2.0.0 accepted\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                else:  # RSET, NOOP
                    writer.write(b"250 OK\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0, limit=2**24)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()
    print(json.dumps(accepted), flush=True)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1])))
