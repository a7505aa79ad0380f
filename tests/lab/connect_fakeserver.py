#!/usr/bin/env python3
"""Hostile and non-SSH servers for the connect tests, one behaviour per port.

usage: connect_fakeserver.py PORT:MODE...   (listens on 0.0.0.0; runs until killed)
modes:
  http      answers the client's first line like a web server
  smtp      greets like a mail server
  trickle   an SSH banner at one byte per second
  longline  endless bytes after "SSH-2.0-", never a newline
  bigline   one 1 MB line (not SSH), then waits
  prelines  endless short lines before any identification
  kex4g     a valid identification, then a packet claiming 4 GB
  silent    accepts and never says anything
  close     accepts and closes at once
"""
import socket
import sys
import threading
import time


def serve(conn, mode):
    try:
        if mode == "http":
            conn.recv(1024)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n")
            time.sleep(1)
        elif mode == "smtp":
            conn.sendall(b"220 mail.lab.example ESMTP Postfix\r\n")
            time.sleep(30)
        elif mode == "trickle":
            for b in b"SSH-2.0-OpenSSH_9.9 trickle\r\n":
                conn.sendall(bytes([b]))
                time.sleep(1)
            time.sleep(30)
        elif mode == "longline":
            conn.sendall(b"SSH-2.0-")
            chunk = b"A" * 65536
            while True:
                conn.sendall(chunk)
        elif mode == "bigline":
            conn.sendall(b"x" * (1 << 20) + b"\r\n")
            time.sleep(30)
        elif mode == "prelines":
            while True:
                conn.sendall(b"Welcome to the lab, please wait\r\n" * 100)
        elif mode == "kex4g":
            conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 evil\r\n\xff\xff\xff\xff\x04\x14")
            time.sleep(30)
        elif mode == "silent":
            time.sleep(60)
        elif mode == "close":
            pass
    except OSError:
        pass
    finally:
        conn.close()


def listen(port, mode):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1024)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, mode), daemon=True).start()


def main():
    for arg in sys.argv[1:]:
        port, mode = arg.split(":")
        threading.Thread(target=listen, args=(int(port), mode), daemon=True).start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
