#!/usr/bin/env python3
"""Writes the seed inputs of fuzz/targets/kernel_message.swift into fuzz/seeds/kernel/ (plain
Python, run once). The first byte is the target's mode: 0 unsigned frames, 2 frames the target
signs, 1 a connection file; frames are separated by 0xFF bytes."""
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "kernel")


def frames(msg_type, content, identities=(b"client-1",), buffers=()):
    header = {"msg_id": "a1", "session": "s1", "username": "u", "date": "2026-12-07T10:00:00.000000Z",
              "msg_type": msg_type, "version": "5.4"}
    parts = list(identities) + [b"<IDS|MSG>", b"0" * 64]
    parts += [json.dumps(x).encode() for x in (header, {}, {}, content)]
    parts += list(buffers)
    return b"\xff".join(parts)


SEEDS = {
    "execute_unsigned": b"\x00" + frames("execute_request", {"code": "x = 1 + 1\nprint x", "silent": False,
                                                             "store_history": True, "user_expressions": {},
                                                             "allow_stdin": True, "stop_on_error": True}),
    "execute_signed": b"\x02" + frames("execute_request", {"code": "show overlay(img, cam)"}),
    "complete": b"\x02" + frames("complete_request", {"code": "gradc", "cursor_pos": 5}),
    "inspect_buffers": b"\x02" + frames("inspect_request", {"code": "gradcam", "cursor_pos": 3,
                                                            "detail_level": 0}, buffers=(b"\x00\x01", b"")),
    "no_identity": b"\x02" + frames("kernel_info_request", {}, identities=()),
    "nested": b"\x02" + frames("comm_info_request", {"target_name": {"a": [1, 2.5e300, None, True, "é"]}}),
    "connection": b"\x01" + json.dumps({"transport": "tcp", "ip": "127.0.0.1", "shell_port": 50001,
                                        "iopub_port": 50002, "stdin_port": 50003, "control_port": 50004,
                                        "hb_port": 50005, "key": "abc", "signature_scheme": "hmac-sha256",
                                        "kernel_name": "camscript"}).encode(),
    "connection_unsigned": b"\x01" + json.dumps({"transport": "tcp", "ip": "0.0.0.0", "shell_port": 1,
                                                 "iopub_port": 2, "stdin_port": 3, "control_port": 4,
                                                 "hb_port": 65535, "key": "", "signature_scheme": ""}).encode(),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"wrote {len(SEEDS)} seeds to {OUT}")
