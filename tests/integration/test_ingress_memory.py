"""Request bodies held in memory are capped across all connections
(HOOKLINE_INGRESS_MAX_BUFFERED_BYTES): past the cap a request is answered 503 with
Retry-After instead of the process growing without bound. A second ingress with a 1 MiB
cap runs for this test; one slow client holds most of it while another is refused."""
import os
import socket
import subprocess
import uuid

from hlsupport import get, wait_until


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(proc, admin):
    try:
        return proc.poll() is None and get(f"http://127.0.0.1:{admin}/readyz").status_code == 200
    except OSError:
        return False


def read_status(sock):
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None


def start_request(port, path, length):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              f"Content-Length: {length}\r\n\r\n".encode())
    return s


def test_body_memory_cap_answers_503(stack, tmp_path):
    port, admin = free_port(), free_port()
    env = {**os.environ, "HOOKLINE_INGRESS_PORT": str(port), "HOOKLINE_ADMIN_PORT": str(admin),
           "HOOKLINE_INGRESS_BIND": "127.0.0.1", "HOOKLINE_INGRESS_MAX_BUFFERED_BYTES": "1048576",
           "HOOKLINE_INGRESS_MAX_BODY_BYTES": "1048576"}
    log = open(tmp_path / "ingress.log", "wb")
    proc = subprocess.Popen([str(stack.bin_dir / "hookline-ingress")], env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: ready(proc, admin), 60, "the second ingress to be ready", lambda: (tmp_path / "ingress.log").read_text()[-500:])
        path = f"/webhook/{uuid.uuid4()}/github"
        slow = start_request(port, path, 1_000_000)
        slow.sendall(b"x" * 600_000)   # held in memory: the buffer grows past half the cap
        wait_until(lambda: "hookline_ingress_buffered_bytes 1048576\n" in get(f"http://127.0.0.1:{admin}/metrics").text,
                   30, "the slow body to be held in memory",
                   lambda: get(f"http://127.0.0.1:{admin}/metrics").text[-600:])
        other = start_request(port, path, 700_000)
        other.sendall(b"y" * 700_000)
        assert read_status(other) == 503, "a request over the memory cap was not refused with 503"
        other.close()
        slow.sendall(b"x" * 400_000)   # the held request completes and is judged on its own
        assert read_status(slow) == 404, "the request within the cap was not served normally"
        slow.close()
        assert "HOOKLINE_INGRESS_MAX_BUFFERED_BYTES" in (tmp_path / "ingress.log").read_text()
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
