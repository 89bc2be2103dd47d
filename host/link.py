"""Host side of the tinyml serial protocol (the device side is firmware/protocol).

Frames are COBS-encoded and delimited by 0x00; decoded, a frame is
``version u8 | type u8 | seq u8 | flags u8 | length u16 | payload | CRC-32 u32`` (little-endian,
CRC-32 as ``zlib.crc32`` over everything before it). The host sends one request and waits for
its reply (flow control for UARTs without backpressure); on a timeout, a transient error reply
or a corrupted frame it sends the same request again (same seq), and the device answers a repeat
from its reply cache. An upload is checked end to end: RUN carries the CRC-32 of the whole input
and the device refuses to compute on anything else, so a wrong result is never accepted.
"""

from __future__ import annotations

import socket
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolchain.errors import TinymlError

PROTO_VERSION = 1
HEADER = struct.Struct("<BBBBH")

MSG_HELLO = 0x01
MSG_PING = 0x02
MSG_RESET = 0x03
MSG_LOAD_BEGIN = 0x10
MSG_LOAD_CHUNK = 0x11
MSG_RUN = 0x12
MSG_REPLY = 0x80
MSG_ERROR = 0xFF

INPUT_AUDIO = 1
INPUT_FEATURES = 2
INPUT_AUDIO_RICE = 3
INPUT_AUDIO_RICE_ORDER = 4  # a predictor order per block (host.codec, firmware/protocol/rice.c)
RUN_RETURN_FEATURES = 0x01

ERR_CRC = 1
ERR_FRAMING = 2
ERR_TOO_LONG = 3
ERR_VERSION = 4
ERR_UNKNOWN_TYPE = 5
ERR_BAD_ARGS = 6
ERR_BAD_OFFSET = 7
ERR_NOT_LOADED = 8
ERR_INPUT_CRC = 9
ERR_TIMEOUT = 10
ERR_MODEL = 11
ERROR_NAMES = {
    ERR_CRC: "crc",
    ERR_FRAMING: "framing",
    ERR_TOO_LONG: "too long",
    ERR_VERSION: "version",
    ERR_UNKNOWN_TYPE: "unknown type",
    ERR_BAD_ARGS: "bad arguments",
    ERR_BAD_OFFSET: "bad offset",
    ERR_NOT_LOADED: "input not loaded",
    ERR_INPUT_CRC: "input crc",
    ERR_TIMEOUT: "receive timeout",
    ERR_MODEL: "model failed",
}
# The request may not have arrived intact: send it again.
TRANSIENT_ERRORS = {ERR_CRC, ERR_FRAMING, ERR_TOO_LONG, ERR_TIMEOUT, ERR_VERSION}
# The upload did not arrive intact: upload again.
UPLOAD_ERRORS = {ERR_BAD_OFFSET, ERR_NOT_LOADED, ERR_INPUT_CRC}


class LinkError(TinymlError):
    """The device did not answer correctly within the retries (or the connection closed)."""


class DeviceError(LinkError):
    """The device answered a request with an error reply."""

    def __init__(self, code: int, detail: int, request: int):
        self.code = code
        self.detail = detail
        self.request = request
        name = ERROR_NAMES.get(code, f"code {code}")
        super().__init__(f"device error '{name}' (detail {detail}) for request 0x{request:02x}")


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data`` (no delimiter): the result holds no 0x00 byte."""
    out = bytearray([0])
    code_at, code = 0, 1
    for b in data:
        if b == 0:
            out[code_at] = code
            code_at, code = len(out), 1
            out.append(0)
        else:
            out.append(b)
            code += 1
            if code == 0xFF:
                out[code_at] = code
                code_at, code = len(out), 1
                out.append(0)
    out[code_at] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes | None:
    """Inverse of :func:`cobs_encode`; None for an invalid encoding."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        i += 1
        if code == 0 or i + code - 1 > n:
            return None
        block = data[i : i + code - 1]
        if 0 in block:
            return None
        out += block
        i += code - 1
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


def encode_frame(msg_type: int, seq: int, payload: bytes = b"") -> bytes:
    """A complete wire frame: 0x00, COBS(header | payload | CRC-32), 0x00."""
    body = HEADER.pack(PROTO_VERSION, msg_type, seq, 0, len(payload)) + payload
    return b"\x00" + cobs_encode(body + struct.pack("<I", zlib.crc32(body))) + b"\x00"


@dataclass
class Frame:
    type: int
    seq: int
    payload: bytes


def decode_frame(encoded: bytes) -> Frame | None:
    """Decode one frame (without delimiters); None when corrupted."""
    raw = cobs_decode(encoded)
    if raw is None or len(raw) < HEADER.size + 4:
        return None
    body, crc = raw[:-4], struct.unpack("<I", raw[-4:])[0]
    if zlib.crc32(body) != crc:
        return None
    version, msg_type, seq, _flags, length = HEADER.unpack_from(body)
    if version != PROTO_VERSION or length != len(body) - HEADER.size:
        return None
    return Frame(msg_type, seq, body[HEADER.size :])


@dataclass
class DeviceInfo:
    """What HELLO reports about the firmware."""

    protocol_version: int
    firmware_version: str
    clock_hz: int
    tick_hz: int
    arena_bytes: int
    input_size: int
    output_size: int
    audio_samples: int
    max_payload: int
    num_ops: int
    board: str
    model_hash: str
    labels: list[str]

    @classmethod
    def parse(cls, p: bytes) -> DeviceInfo:
        proto, major, minor, patch, clock, tick, arena, nin, nout, samples, maxp, nops = (
            struct.unpack_from("<BBBBIIIIHIHH", p)
        )
        off = 30
        strings: list[str] = []
        for _ in range(2):
            n = p[off]
            strings.append(p[off + 1 : off + 1 + n].decode("utf-8", "replace"))
            off += 1 + n
        labels = []
        for _ in range(p[off]):
            off_n = p[off + 1]
            labels.append(p[off + 2 : off + 2 + off_n].decode("utf-8", "replace"))
            off += 1 + off_n
        return cls(
            proto, f"{major}.{minor}.{patch}", clock, tick, arena, nin, nout, samples, maxp, nops,
            strings[0], strings[1], labels,
        )


@dataclass
class DeviceResult:
    """One inference on the device.

    scores: int8 [output_size]; features: int8 [input_size] (audio runs that asked for them)
    or None; feature_ticks / invoke_ticks: tick-source periods of each step.
    """

    top: int
    scores: np.ndarray
    feature_ticks: int
    invoke_ticks: int
    features: np.ndarray | None = None

    @classmethod
    def parse(cls, p: bytes) -> DeviceResult:
        _status, top, n, _r, fticks, iticks = struct.unpack_from("<BBBBII", p)
        scores = np.frombuffer(p[12 : 12 + n], dtype=np.int8).copy()
        (nfeat,) = struct.unpack_from("<H", p, 12 + n)
        feats = np.frombuffer(p[14 + n : 14 + n + nfeat], dtype=np.int8).copy() if nfeat else None
        return cls(top, scores, fticks, iticks, feats)


@dataclass
class LinkStats:
    requests: int = 0
    retransmissions: int = 0
    reuploads: int = 0
    bad_frames: int = 0
    stale_frames: int = 0
    error_replies: dict[str, int] = field(default_factory=dict)


def open_serial(url: str, baudrate: int = 115200) -> Any:
    """Open a serial port or pyserial URL; TCP_NODELAY on socket:// connections."""
    import serial

    try:
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05)
    except (serial.SerialException, OSError, ValueError) as err:
        raise LinkError(f"cannot open serial port {url!r}: {err}") from err
    sock = getattr(port, "_socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return port


class Link:
    """Request/reply client over a pyserial-like port (``read``, ``write``, ``timeout``).

    timeout_s: wait for a reply before sending the request again; run_timeout_s: the same for
    RUN, which includes the device's compute time; retries: sends per request beyond the first.
    """

    def __init__(
        self,
        port: Any,
        *,
        timeout_s: float = 1.0,
        run_timeout_s: float = 10.0,
        retries: int = 10,
        upload_attempts: int = 5,
        compress: bool = True,
    ):
        self.port = port
        self.timeout_s = timeout_s
        self.run_timeout_s = run_timeout_s
        self.retries = retries
        self.upload_attempts = upload_attempts
        self.compress = compress
        self.rice_kind = INPUT_AUDIO_RICE_ORDER  # INPUT_AUDIO_RICE for firmware without it
        self.bytes_uploaded = 0
        self.stats = LinkStats()
        self._seq = 0
        self._rx = bytearray()
        self._frames: list[bytes] = []
        self.chunk_bytes = 4092

    @classmethod
    def open(cls, url: str, **kwargs: Any) -> Link:
        return cls(open_serial(url), **kwargs)

    def close(self) -> None:
        try:
            self.port.close()
        except Exception:  # noqa: BLE001 - closing a dead connection must not raise
            pass

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- framing -------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq = self._seq % 255 + 1  # 1..255: 0 marks "unknown" in error replies
        return self._seq

    def _read_frame(self, deadline: float) -> Frame | None | bool:
        """Next decodable frame, False for a corrupted one, None at the deadline."""
        while True:
            if self._frames:
                raw = self._frames.pop(0)
                frame = decode_frame(raw)
                if frame is None:
                    self.stats.bad_frames += 1
                    return False
                return frame
            if time.monotonic() >= deadline:
                return None
            try:
                data = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 1))
            except Exception as err:  # noqa: BLE001 - pyserial raises several types
                raise LinkError(f"serial connection lost: {err}") from err
            if not data:
                if getattr(self.port, "_socket", True) is None:
                    raise LinkError("serial connection closed")
                continue
            self._rx += data
            while 0 in self._rx:
                i = self._rx.index(0)
                if i:
                    self._frames.append(bytes(self._rx[:i]))
                del self._rx[: i + 1]

    def transact(
        self, msg_type: int, payload: bytes = b"", timeout_s: float | None = None
    ) -> bytes:
        """Send a request until its reply arrives; returns the reply payload.

        Raises DeviceError for a non-transient error reply, LinkError after the retries.
        """
        timeout = self.timeout_s if timeout_s is None else timeout_s
        seq = self._next_seq()
        wire = encode_frame(msg_type, seq, payload)
        self.stats.requests += 1
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retransmissions += 1
            try:
                self.port.write(wire)
            except Exception as err:  # noqa: BLE001
                raise LinkError(f"serial connection lost: {err}") from err
            deadline = time.monotonic() + timeout
            while True:
                frame = self._read_frame(deadline)
                if frame is None:
                    break  # timeout: send again
                if frame is False:
                    break  # most likely our reply, damaged: ask again (the device resends it)
                assert isinstance(frame, Frame)
                if frame.type == MSG_ERROR and len(frame.payload) >= 5:
                    code, detail = struct.unpack_from("<BI", frame.payload)
                    name = ERROR_NAMES.get(code, str(code))
                    self.stats.error_replies[name] = self.stats.error_replies.get(name, 0) + 1
                    if code in TRANSIENT_ERRORS:
                        break  # something garbled reached the device: send ours again
                    if frame.seq == seq:
                        raise DeviceError(code, detail, msg_type)
                    self.stats.stale_frames += 1
                    continue
                if frame.seq != seq or frame.type != (msg_type | MSG_REPLY):
                    self.stats.stale_frames += 1
                    continue
                return frame.payload
            # drain whatever arrived so that a late reply does not confuse the next request
        raise LinkError(
            f"no valid reply to request 0x{msg_type:02x} after {self.retries + 1} attempts "
            f"({timeout:.1f} s each)"
        )

    # -- requests ------------------------------------------------------------------------
    def hello(self) -> DeviceInfo:
        info = DeviceInfo.parse(self.transact(MSG_HELLO))
        self.chunk_bytes = (info.max_payload - 4) // 4 * 4
        return info

    def ping(self, payload: bytes = b"ping") -> bytes:
        return self.transact(MSG_PING, payload)

    def reset(self) -> None:
        self.transact(MSG_RESET)

    def _upload(self, kind: int, data: bytes) -> None:
        self.bytes_uploaded += len(data)
        self.transact(MSG_LOAD_BEGIN, struct.pack("<BI", kind, len(data)))
        for off in range(0, len(data), self.chunk_bytes):
            chunk = data[off : off + self.chunk_bytes]
            reply = self.transact(MSG_LOAD_CHUNK, struct.pack("<I", off) + chunk)
            (received,) = struct.unpack("<I", reply[:4])
            if received != off + len(chunk):
                raise DeviceError(ERR_BAD_OFFSET, received, MSG_LOAD_CHUNK)

    def run(self, kind: int, data: bytes, flags: int = 0) -> DeviceResult:
        """Upload an input, run it, return the result (uploads again if it arrived damaged)."""
        crc = zlib.crc32(data)
        last: DeviceError | None = None
        for attempt in range(self.upload_attempts):
            if attempt:
                self.stats.reuploads += 1
            try:
                self._upload(kind, data)
                reply = self.transact(
                    MSG_RUN, struct.pack("<BBI", kind, flags, crc), timeout_s=self.run_timeout_s
                )
            except DeviceError as err:
                if err.code not in UPLOAD_ERRORS:
                    raise
                last = err
                continue
            return DeviceResult.parse(reply)
        raise LinkError(f"input upload failed {self.upload_attempts} times: {last}")

    def encode_audio(self, pcm: np.ndarray) -> tuple[int, bytes]:
        """(input kind, bytes) for one clip's upload: losslessly compressed (host.codec) when
        that is smaller, else raw int16. Reads only settings, so a worker thread may prepare the
        next clip while this link serves the current one."""
        from .codec import rice_encode

        raw = np.ascontiguousarray(pcm, dtype="<i2").tobytes()
        if self.compress:
            kind = self.rice_kind
            packed = rice_encode(pcm, orders=kind == INPUT_AUDIO_RICE_ORDER)
            if len(packed) < len(raw):
                return kind, packed
        return INPUT_AUDIO, raw

    def run_audio(self, pcm: np.ndarray, return_features: bool = True,
                  encoded: tuple[int, bytes] | None = None) -> DeviceResult:
        """pcm: int16 [samples] (one clip); the device computes features and runs the model.
        ``encoded``: the clip as encode_audio gave it, if already prepared."""
        if encoded is None or encoded[0] not in (INPUT_AUDIO, self.rice_kind):
            encoded = self.encode_audio(pcm)
        kind, data = encoded
        flags = RUN_RETURN_FEATURES if return_features else 0
        try:
            return self.run(kind, data, flags)
        except DeviceError as err:
            # Firmware from before kind 4 refuses it at LOAD_BEGIN: first order only from now.
            if not (kind == INPUT_AUDIO_RICE_ORDER and err.request == MSG_LOAD_BEGIN
                    and err.code == ERR_BAD_ARGS):
                raise
            self.rice_kind = INPUT_AUDIO_RICE
            return self.run_audio(pcm, return_features)

    def run_features(self, features: np.ndarray) -> DeviceResult:
        """features: int8 model input (any shape, C order); inference only."""
        return self.run(INPUT_FEATURES, np.ascontiguousarray(features, dtype=np.int8).tobytes())
