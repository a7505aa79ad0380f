#!/usr/bin/env python3
"""A fake SSH server on many loopback ports, for fleet tests and benches: after
--delay it sends an identification line and a KEXINIT, then waits for the
client (bounded) and closes. Nothing is parsed. With --count FILE it writes
"peak total" (connections at once, connections in all) after every accept.

  ssh_responder.py BASE N [--delay S] [--name TEXT] [--count FILE]
                   [--read-timeout S] [--lifetime S] [--nofile N]
Prints "ready" once every port listens."""
import argparse
import asyncio
import resource
import struct

ap = argparse.ArgumentParser()
ap.add_argument("base", type=int)
ap.add_argument("n", type=int)
ap.add_argument("--delay", type=float, default=0.0)
ap.add_argument("--name", default="fleet")
ap.add_argument("--count")
ap.add_argument("--read-timeout", type=float, default=10.0)
ap.add_argument("--lifetime", type=float, default=0.0, help="exit after S seconds (0: never)")
ap.add_argument("--nofile", type=int, default=0)
a = ap.parse_args()
if a.nofile:
    resource.setrlimit(resource.RLIMIT_NOFILE, (a.nofile, a.nofile))


def namelist(s):
    return struct.pack("!I", len(s)) + s


lists = [b"curve25519-sha256", b"ssh-ed25519", b"chacha20-poly1305@openssh.com",
         b"chacha20-poly1305@openssh.com", b"hmac-sha2-256", b"hmac-sha2-256",
         b"none", b"none", b"", b""]
payload = b"\x14" + b"\0" * 16 + b"".join(namelist(x) for x in lists) + b"\0" + b"\0\0\0\0"
pad = 8 - (5 + len(payload)) % 8
pad += 8 if pad < 4 else 0
kexinit = struct.pack("!IB", 1 + len(payload) + pad, pad) + payload + b"\0" * pad
ident = b"SSH-2.0-OpenSSH_9.2p1 " + a.name.encode() + b"\r\n"
now = peak = total = 0


async def handle(r, w):
    global now, peak, total
    now += 1
    total += 1
    peak = max(peak, now)
    if a.count:
        with open(a.count, "w") as f:
            f.write("%d %d\n" % (peak, total))
    try:
        await asyncio.sleep(a.delay)
        w.write(ident + kexinit)
        await w.drain()
        await asyncio.wait_for(r.read(65536), a.read_timeout)
    except Exception:
        pass
    finally:
        now -= 1
        w.close()


async def main():
    for p in range(a.base, a.base + a.n):
        await asyncio.start_server(handle, "127.0.0.1", p, backlog=1024)
    print("ready", flush=True)
    if a.lifetime:
        await asyncio.sleep(a.lifetime)
    else:
        await asyncio.Event().wait()

asyncio.run(main())
