#!/usr/bin/env python3
"""A tiny DNS server for the connect tests: A records from the command line, each
optionally answered late; every other name gets NXDOMAIN.

usage: connect_fakedns.py ADDR NAME=IP[@DELAY_MS]...
"""
import socket
import struct
import sys
import threading
import time


def parse_qname(msg, off):
    labels = []
    while off < len(msg) and msg[off]:
        n = msg[off]
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    return ".".join(labels).lower(), off + 1


def answer(sock, msg, peer, records):
    if len(msg) < 12:
        return
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    name, off = parse_qname(msg, 12)
    qtype = struct.unpack("!H", msg[off:off + 2])[0] if off + 2 <= len(msg) else 0
    question = msg[12:off + 4]
    rec = records.get(name.rstrip("."))
    if rec and rec[1]:
        time.sleep(rec[1] / 1000.0)
    if rec is None:
        hdr = struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0)  # NXDOMAIN
        sock.sendto(hdr + question, peer)
        return
    if qtype != 1:  # only A records: an empty answer for AAAA and others
        sock.sendto(struct.pack("!HHHHHH", qid, 0x8180, 1, 0, 0, 0) + question, peer)
        return
    ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(rec[0])
    sock.sendto(struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + ans, peer)


def main():
    records = {}
    for arg in sys.argv[2:]:
        name, val = arg.split("=")
        ip, _, delay = val.partition("@")
        records[name.lower()] = (ip, int(delay or 0))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((sys.argv[1], 53))
    while True:
        msg, peer = sock.recvfrom(4096)
        threading.Thread(target=answer, args=(sock, msg, peer, records), daemon=True).start()


if __name__ == "__main__":
    main()
