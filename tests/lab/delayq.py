#!/usr/bin/env python3
"""tests/lab/delayq.py QUEUE DELAY_MS [JITTER_MS] - a netem stand-in for kernels
built without sch_netem: holds every packet of NFQUEUE QUEUE for DELAY_MS plus a
uniform random jitter in [-JITTER_MS, +JITTER_MS] (netem's default distribution),
then accepts it. Raw netlink, no libraries. Prints "ready" once bound."""
import heapq
import random
import select
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
SUBSYS_QUEUE = 3
MSG_PACKET, MSG_VERDICT, MSG_CONFIG = 0, 1, 2
NLMSG_ERROR = 2
F_REQUEST, F_ACK = 1, 4
CFG_CMD, CFG_PARAMS, CFG_QUEUE_MAXLEN = 1, 2, 3
CMD_BIND = 1
COPY_META = 1
PACKET_HDR = 1
VERDICT_HDR = 2
NF_ACCEPT = 1


def attr(kind, data):
    n = 4 + len(data)
    return struct.pack("=HH", n, kind) + data + b"\0" * ((4 - n % 4) % 4)


def message(kind, flags, seq, queue, attrs):
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + attrs
    return struct.pack("=IHHII", 16 + len(body), (SUBSYS_QUEUE << 8) | kind, flags, seq, 0) + body


def request(sock, seq, queue, attrs):
    sock.send(message(MSG_CONFIG, F_REQUEST | F_ACK, seq, queue, attrs))
    data = sock.recv(65536)
    _, kind, _, _, _ = struct.unpack_from("=IHHII", data)
    if kind == NLMSG_ERROR and struct.unpack_from("=i", data, 16)[0] != 0:
        raise OSError("nfqueue config refused: %d" % struct.unpack_from("=i", data, 16)[0])


def packets(data):
    """Yields the packet ids in one netlink datagram."""
    off = 0
    while off + 16 <= len(data):
        length, kind, _, _, _ = struct.unpack_from("=IHHII", data, off)
        if length < 16:
            return
        if kind == (SUBSYS_QUEUE << 8) | MSG_PACKET:
            a = off + 20
            while a + 4 <= off + length:
                alen, akind = struct.unpack_from("=HH", data, a)
                if alen < 4:
                    break
                if akind & 0x7FFF == PACKET_HDR:
                    yield struct.unpack_from("!I", data, a + 4)[0]
                a += (alen + 3) & ~3
        off += (length + 3) & ~3


def main():
    queue = int(sys.argv[1])
    delay = float(sys.argv[2]) / 1000.0
    jitter = float(sys.argv[3]) / 1000.0 if len(sys.argv) > 3 else 0.0
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((0, 0))
    request(sock, 1, queue, attr(CFG_CMD, struct.pack("!BxH", CMD_BIND, 0)))
    request(sock, 2, queue, attr(CFG_PARAMS, struct.pack("!IB", 0, COPY_META)))
    request(sock, 3, queue, attr(CFG_QUEUE_MAXLEN, struct.pack("!I", 10000)))
    print("ready", flush=True)
    held = []
    while True:
        wait = max(0.0, held[0][0] - time.monotonic()) if held else 1.0
        if select.select([sock], [], [], wait)[0]:
            try:
                data = sock.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                data = b""
            now = time.monotonic()
            for pid in packets(data):
                hold = max(0.0, delay + random.uniform(-jitter, jitter))
                heapq.heappush(held, (now + hold, pid))
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, pid = heapq.heappop(held)
            sock.send(message(MSG_VERDICT, F_REQUEST, 0, queue,
                              attr(VERDICT_HDR, struct.pack("!II", NF_ACCEPT, pid))))


if __name__ == "__main__":
    main()
