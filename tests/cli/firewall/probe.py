# The probes of tests/cli/firewall, run in a peer namespace: argv[1] is a
# JSON list of {"proto", "src", "sport", "dst", "port"}; every probe runs in
# its own thread, from its own source address and port (unique in the whole
# run, so that no connection-tracking entry of an earlier probe can make a
# later one look established). Prints a JSON list of results, in order:
# TCP "connected" | "refused" | "timeout" | "error ERRNO";
# UDP "replied" | "silent" (no answer to three datagrams) | "error ERRNO".
# An address with a ":" is IPv6.
import errno
import json
import socket
import sys
import threading

TCP_WAIT = 0.5
UDP_WAIT = 0.3
UDP_TRIES = 3


def family(p):
    return socket.AF_INET6 if ":" in p["src"] else socket.AF_INET


def tcp(p):
    s = socket.socket(family(p), socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((p["src"], p["sport"]))
        s.settimeout(TCP_WAIT)
        s.connect((p["dst"], p["port"]))
        return "connected"
    except ConnectionRefusedError:
        return "refused"
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return "error " + errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()


def udp(p):
    s = socket.socket(family(p), socket.SOCK_DGRAM)
    try:
        s.bind((p["src"], p["sport"]))
        s.settimeout(UDP_WAIT)
        for _ in range(UDP_TRIES):
            s.sendto(b"whyport", (p["dst"], p["port"]))
            try:
                s.recvfrom(64)
                return "replied"
            except socket.timeout:
                continue
        return "silent"
    except OSError as e:
        return "error " + errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()


probes = json.loads(sys.argv[1])
results = [None] * len(probes)


def one(i):
    p = probes[i]
    results[i] = tcp(p) if p["proto"] == "tcp" else udp(p)


threads = [threading.Thread(target=one, args=(i,)) for i in range(len(probes))]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(results))
