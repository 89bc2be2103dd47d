"""Serial protocol: the C framing (built with the host gcc) against the Python client, and the
firmware in QEMU answering malformed frames with errors while it keeps serving."""

from __future__ import annotations

import ctypes
import random
import socket
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest
from firmware_support import running_qemu

from host import link as L
from toolchain.paths import FIRMWARE_DIR


@pytest.fixture(scope="module")
def cproto(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    out = tmp_path_factory.mktemp("proto") / "libproto.so"
    src = sorted((FIRMWARE_DIR / "protocol").glob("*.c"))
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
                    "-o", str(out), *map(str, src)], check=True)
    lib = ctypes.CDLL(str(out))
    lib.tml_crc32_update.restype = ctypes.c_uint32
    lib.tml_crc32_update.argtypes = [ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]
    lib.tml_cobs_encode.restype = ctypes.c_size_t
    lib.tml_cobs_decode.restype = ctypes.c_long
    lib.tml_frame_encode.restype = ctypes.c_size_t
    lib.tml_frame_encode.argtypes = [ctypes.c_uint8, ctypes.c_uint8, ctypes.c_char_p,
                                     ctypes.c_uint16, ctypes.c_char_p]
    return lib


def _payloads() -> list[bytes]:
    rng = random.Random(4)
    cases = [b"", b"\x00", b"\x00\x00", bytes(range(1, 255)), bytes(range(0, 256)) * 3,
             bytes(253) + b"\x01", b"\x01" * 254, b"\x01" * 255, b"\x01" * 508]
    cases += [bytes(rng.choice([0, 0, 1, 7, 255]) for _ in range(rng.randrange(1, 5000)))
              for _ in range(40)]
    return cases


def test_crc_and_cobs_match_python(cproto: ctypes.CDLL) -> None:
    for data in _payloads():
        assert cproto.tml_crc32_update(0, data, len(data)) == zlib.crc32(data)
        enc = ctypes.create_string_buffer(len(data) + len(data) // 254 + 2)
        n = cproto.tml_cobs_encode(data, len(data), enc)
        assert enc.raw[:n] == L.cobs_encode(data)
        assert 0 not in enc.raw[:n]
        dec = ctypes.create_string_buffer(len(data) + 1)
        assert cproto.tml_cobs_decode(enc.raw[:n], n, dec) == len(data)
        assert dec.raw[: len(data)] == data
        assert L.cobs_decode(L.cobs_encode(data)) == data


def test_c_frame_encoder_matches_python(cproto: ctypes.CDLL) -> None:
    for i, data in enumerate(p for p in _payloads() if len(p) <= 4096):
        out = ctypes.create_string_buffer(len(data) * 255 // 254 + 64)
        n = cproto.tml_frame_encode(0x92, i % 256, data, len(data), out)
        wire = out.raw[:n]
        assert wire == L.encode_frame(0x92, i % 256, data)
        frame = L.decode_frame(wire[1:-1])
        assert frame is not None and frame.payload == data and frame.seq == i % 256


def test_python_rejects_damaged_frames() -> None:
    wire = L.encode_frame(L.MSG_PING, 5, b"hello world")[1:-1]
    rng = random.Random(1)
    for _ in range(300):
        bad = bytearray(wire)
        bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        assert L.decode_frame(bytes(bad)) is None
    assert L.decode_frame(wire[:-1]) is None


def _raw_exchange(sock: socket.socket, data: bytes, wait_s: float = 3.0) -> list[L.Frame]:
    """Send raw bytes, collect the frames that come back (until 0.15 s of quiet after the first
    complete frame, or wait_s)."""
    sock.sendall(data)
    deadline = time.monotonic() + wait_s
    buf = bytearray()
    sock.settimeout(0.15)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            if buf.rstrip(b"\x00").count(0) >= 1 and buf.endswith(b"\x00"):
                break
            continue
        if not chunk:
            break
        buf += chunk
    frames = []
    for part in bytes(buf).split(b"\x00"):
        if part:
            f = L.decode_frame(part)
            assert f is not None, f"device sent a corrupted frame {part!r}"
            frames.append(f)
    return frames


def _errors(frames: list[L.Frame]) -> list[int]:
    return [f.payload[0] for f in frames if f.type == L.MSG_ERROR]


def _raw_frame(msg_type: int, seq: int, payload: bytes, version: int = 1,
               length: int | None = None) -> bytes:
    body = struct.pack("<BBBBH", version, msg_type, seq, 0,
                       len(payload) if length is None else length) + payload
    return b"\x00" + L.cobs_encode(body + struct.pack("<I", zlib.crc32(body))) + b"\x00"


def test_device_answers_malformed_frames_and_keeps_serving() -> None:
    with running_qemu() as qemu:
        sock = socket.create_connection(("127.0.0.1", qemu.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ping = L.encode_frame(L.MSG_PING, 9, b"alive")

        def assert_alive() -> None:
            # Error replies to earlier garbage may still be on their way: read until the pong.
            frames = _raw_exchange(sock, ping)
            deadline = time.monotonic() + 5.0
            while not any(f.type == L.MSG_PING | L.MSG_REPLY and f.payload == b"alive"
                          for f in frames):
                assert time.monotonic() < deadline, frames
                frames += _raw_exchange(sock, b"", 0.5)

        assert_alive()
        bad_crc = bytearray(L.encode_frame(L.MSG_HELLO, 1))
        bad_crc[3] ^= 0x10
        assert L.ERR_CRC in _errors(_raw_exchange(sock, bytes(bad_crc)))
        assert L.ERR_FRAMING in _errors(_raw_exchange(sock, b"\x00\x05\x01\x02\x00"))
        assert L.ERR_TOO_LONG in _errors(_raw_exchange(sock, b"\x00" + b"\x07" * 9000 + b"\x00"))
        assert L.ERR_VERSION in _errors(_raw_exchange(sock, _raw_frame(L.MSG_HELLO, 2, b"", 7)))
        assert L.ERR_FRAMING in _errors(
            _raw_exchange(sock, _raw_frame(L.MSG_PING, 3, b"abc", length=9)))
        assert L.ERR_UNKNOWN_TYPE in _errors(_raw_exchange(sock, _raw_frame(0x55, 4, b"")))
        assert L.ERR_NOT_LOADED in _errors(
            _raw_exchange(sock, _raw_frame(L.MSG_RUN, 5, struct.pack("<BBI", 1, 0, 0))))
        assert L.ERR_BAD_ARGS in _errors(
            _raw_exchange(sock, _raw_frame(L.MSG_LOAD_BEGIN, 6, struct.pack("<BI", 1, 1 << 30))))
        # An input kind the firmware does not know is refused at LOAD_BEGIN (the host falls
        # back from kind 4 to kind 3 on exactly this reply).
        assert L.ERR_BAD_ARGS in _errors(
            _raw_exchange(sock, _raw_frame(L.MSG_LOAD_BEGIN, 6, struct.pack("<BI", 9, 100))))
        begin = _raw_exchange(sock, _raw_frame(L.MSG_LOAD_BEGIN, 7, struct.pack("<BI", 2, 490)))
        assert [f.type for f in begin] == [L.MSG_LOAD_BEGIN | L.MSG_REPLY]
        assert L.ERR_BAD_OFFSET in _errors(
            _raw_exchange(sock, _raw_frame(L.MSG_LOAD_CHUNK, 8, struct.pack("<I", 100) + b"x")))
        _raw_exchange(sock, _raw_frame(L.MSG_LOAD_CHUNK, 10, struct.pack("<I", 0) + bytes(490)))
        assert L.ERR_INPUT_CRC in _errors(
            _raw_exchange(sock, _raw_frame(L.MSG_RUN, 11, struct.pack("<BBI", 2, 0, 1234))))
        # A partial frame and then silence: dropped after the receive timeout.
        partial = L.encode_frame(L.MSG_HELLO, 12)[:-3]
        assert L.ERR_TIMEOUT in _errors(_raw_exchange(sock, partial, 4.0))
        # Random garbage never stops the device.
        rng = random.Random(7)
        _raw_exchange(sock, bytes(rng.randrange(256) for _ in range(3000)), 1.0)
        assert_alive()
        # A repeated request gets the cached reply and is not executed twice.
        hello = L.encode_frame(L.MSG_HELLO, 13)
        first = _raw_exchange(sock, hello)
        again = _raw_exchange(sock, hello)
        assert first and again and first[0].payload == again[0].payload
        sock.close()


def test_reset_request_restarts_the_firmware() -> None:
    with running_qemu() as qemu:
        link = L.Link.open(f"socket://127.0.0.1:{qemu.port}")
        info = link.hello()
        link.reset()
        assert link.hello() == info
        assert link.ping(b"after reset") == b"after reset"
        link.close()


def test_source_tree_has_the_protocol_header() -> None:
    assert (Path(FIRMWARE_DIR) / "protocol" / "tml_protocol.h").is_file()


@pytest.mark.parametrize("orders", [False, True], ids=["first-order", "order-per-block"])
def test_c_rice_decoder_inverts_the_host_encoder(
    cproto: ctypes.CDLL, speech_commands: Path, orders: bool
) -> None:
    import numpy as np
    import soundfile as sf

    from host.codec import rice_decode, rice_encode

    rng = np.random.default_rng(3)
    clips = [np.zeros(16000, np.int16), rng.integers(-32768, 32768, 16000).astype(np.int16),
             np.array([32767, -32768] * 500, np.int16), np.array([7], np.int16),
             (rng.normal(0, 300, 16000)).astype(np.int16),
             np.cumsum(rng.integers(-40, 41, 16000)).clip(-32768, 32767).astype(np.int16)]
    clips += [sf.read(str(p), dtype="int16")[0]
              for p in sorted(speech_commands.glob("*/*.wav"))[::300]
              if p.parent.name != "_background_noise_"]
    decode = cproto.tml_rice_decode_orders if orders else cproto.tml_rice_decode
    decode.restype = ctypes.c_long
    for pcm in clips:
        packed = rice_encode(pcm, orders=orders)
        assert np.array_equal(rice_decode(packed, orders=orders), pcm)
        out = np.zeros(16000, np.int16)
        n = decode(packed, ctypes.c_size_t(len(packed)), out.ctypes.data_as(ctypes.c_void_p),
                   ctypes.c_size_t(16000))
        assert n == len(pcm) and np.array_equal(out[:n], pcm)
        # Truncated streams are refused, never read past the end.
        assert decode(packed[: len(packed) // 2], ctypes.c_size_t(len(packed) // 2),
                      out.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(16000)) in (-1, len(pcm))
    speech = [sf.read(str(p), dtype="int16")[0]
              for p in sorted(speech_commands.glob("yes/*.wav"))[:20]]
    first = sum(len(rice_encode(x)) for x in speech)
    assert first < 0.75 * 32000 * len(speech)  # speech compresses
    if orders:  # and a predictor order per block saves a few percent more
        assert sum(len(rice_encode(x, orders=True)) for x in speech) < 0.97 * first


class _FirstOrderOnlyLink(L.Link):
    """While ``refuse_orders`` is set, answers input kind 4 as firmware from before it does
    (it refuses any kind it does not know at LOAD_BEGIN with BAD_ARGS, checked in QEMU above)."""

    refuse_orders = False

    def _upload(self, kind: int, data: bytes) -> None:
        if self.refuse_orders and kind == L.INPUT_AUDIO_RICE_ORDER:
            raise L.DeviceError(L.ERR_BAD_ARGS, len(data), L.MSG_LOAD_BEGIN)
        super()._upload(kind, data)


def test_host_falls_back_to_first_order_for_older_firmware(speech_commands: Path) -> None:
    import numpy as np
    import soundfile as sf

    pcm = sf.read(str(sorted(speech_commands.glob("no/*.wav"))[0]), dtype="int16")[0]
    with running_qemu() as qemu:
        link = _FirstOrderOnlyLink(L.open_serial(f"socket://127.0.0.1:{qemu.port}"))
        link.hello()
        newer = link.run_audio(pcm)
        assert link.rice_kind == L.INPUT_AUDIO_RICE_ORDER
        sent_with_orders = link.bytes_uploaded
        link.refuse_orders = True
        older = link.run_audio(pcm)
        assert link.rice_kind == L.INPUT_AUDIO_RICE  # and it stays there
        again = link.run_audio(pcm)
        link.close()
    assert link.bytes_uploaded - sent_with_orders > 2 * sent_with_orders  # first order: larger
    for result in (older, again):
        assert np.array_equal(result.scores, newer.scores)
        assert np.array_equal(result.features, newer.features)
