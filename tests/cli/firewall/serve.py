# The listeners of tests/cli/firewall: every socket named in argv[1] (a JSON
# list of {"proto", "family", "addr", "port", "dev"}; family "4", "6"
# (IPV6_V6ONLY on) or "46" (dual-stack: IPV6_V6ONLY off, it takes IPv4
# too)), bound and served by one loop. TCP connections are accepted and
# closed (the handshake alone tells the probe it got through; accepting
# keeps the backlog from filling). UDP datagrams are echoed from the
# address they were sent to (IP_PKTINFO / IPV6_PKTINFO), so that a probe
# can tell a delivered datagram from a dropped one.
import json
import select
import socket
import struct
import sys

IP_PKTINFO = 8
IPV6_RECVPKTINFO = 49
IPV6_PKTINFO = 50
socks = {}
for spec in json.loads(sys.argv[1]):
    kind = socket.SOCK_STREAM if spec["proto"] == "tcp" else socket.SOCK_DGRAM
    v6 = spec["family"] != "4"
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(spec["family"] == "6"))
    if spec.get("dev"):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, spec["dev"].encode())
    s.bind((spec["addr"], spec["port"]))
    if kind == socket.SOCK_STREAM:
        s.listen(128)
    elif v6:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
    else:
        s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    socks[s.fileno()] = (s, kind)
print("ready", flush=True)
poll = select.poll()
for fd in socks:
    poll.register(fd, select.POLLIN)
while True:
    for fd, _ in poll.poll():
        s, kind = socks[fd]
        try:
            if kind == socket.SOCK_STREAM:
                conn, _ = s.accept()
                conn.close()
                continue
            data, anc, _, peer = s.recvmsg(2048, 256)
            reply = []
            for level, kind_, d in anc:
                # in_pktinfo: ifindex, spec_dst, addr (the header's
                # destination); in6_pktinfo: addr, ifindex.
                if level == socket.IPPROTO_IP and kind_ == IP_PKTINFO:
                    reply.append((level, kind_, struct.pack("i4s4s", 0, d[8:12], bytes(4))))
                elif level == socket.IPPROTO_IPV6 and kind_ == IPV6_PKTINFO:
                    reply.append((level, kind_, struct.pack("16si", d[:16], 0)))
            s.sendmsg([data], reply, 0, peer)
        except OSError:
            pass
