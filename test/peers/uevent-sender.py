"""Sends udev-format uevents on the NETLINK_KOBJECT_UEVENT "udev" multicast group (2), the way
systemd-udevd rebroadcasts a kernel event after processing it. Node has no netlink sockets, so
the USB test harness drives this over stdin: one JSON object of uevent properties per line, one
"sent <n>" line back per datagram once the kernel has accepted it.

Only root (CAP_NET_ADMIN in the network namespace) may send to a netlink multicast group, and
receivers such as nusb (the engine behind the `usb` npm package) check that a datagram came in
on group 2 and starts with the libudev header, so this is exactly what they accept from udevd.
"""
import json
import socket
import struct
import sys

NETLINK_KOBJECT_UEVENT = 15
UDEV_GROUP = 2  # group 1 carries the kernel's own (headerless) uevents, group 2 udevd's
HEADER_SIZE = 40


def murmur_hash2(data: bytes, seed: int = 0) -> int:
    """libudev's util_string_hash32 (MurmurHash2), used for the subsystem filter field."""
    m = 0x5BD1E995
    h = (seed ^ len(data)) & 0xFFFFFFFF
    i = 0
    while len(data) - i >= 4:
        k = struct.unpack_from("<I", data, i)[0]
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
        i += 4
    rest = data[i:]
    if len(rest) == 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if len(rest) >= 1:
        h ^= rest[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def udev_datagram(props: dict) -> bytes:
    body = b"".join(f"{k}={v}".encode() + b"\0" for k, v in props.items())
    subsystem = props.get("SUBSYSTEM", "").encode()
    devtype = props.get("DEVTYPE", "").encode()
    header = b"libudev\0" + struct.pack(
        ">I", 0xFEEDCAFE
    ) + struct.pack(
        "=III",  # host byte order, as libudev writes them
        HEADER_SIZE,
        HEADER_SIZE,
        len(body),
    ) + struct.pack(
        ">II", murmur_hash2(subsystem), murmur_hash2(devtype) if devtype else 0
    ) + struct.pack("=II", 0, 0)
    assert len(header) == HEADER_SIZE
    return header + body


def main() -> None:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_KOBJECT_UEVENT)
    sock.bind((0, 0))
    print("ready", flush=True)
    sent = 0
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            sock.sendto(udev_datagram(json.loads(line)), (0, UDEV_GROUP))
            sent += 1
            print(f"sent {sent}", flush=True)
        except Exception as error:  # reported to the harness, which fails the test with it
            print(f"error {type(error).__name__}: {error}", flush=True)


if __name__ == "__main__":
    main()
