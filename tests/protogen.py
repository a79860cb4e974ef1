"""Regenerate ``nicocomments/live/ndgr_pb2.py`` (the client's) and ``nicosandbox/ndgr_pb2.py``
(the emulator's) from their ``ndgr.proto`` with grpcio-tools' protoc.

    python -m tests.protogen      # from the repository root: rewrite the committed files

grpcio-tools is pinned in the ``test`` extra, so every checkout generates the same bytes;
``tests/test_live_proto.py`` regenerates and compares, so the two files never drift apart.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO = "nicocomments/live/ndgr.proto"
GENERATED = ROOT / "nicocomments/live/ndgr_pb2.py"
SANDBOX_PROTO = "nicosandbox/ndgr.proto"
SANDBOX_GENERATED = ROOT / "nicosandbox/ndgr_pb2.py"
TARGETS = ((PROTO, GENERATED), (SANDBOX_PROTO, SANDBOX_GENERATED))
HEADER = (
    "# nicocomments: generated from {proto} by grpcio-tools {tools}'s protoc.\n"
    "# Do not edit. Change the .proto, then run `python -m tests.protogen`;\n"
    "# tests/test_live_proto.py fails whenever this file and the .proto disagree.\n"
)


def generate(proto: str = PROTO) -> str:
    """The text ``ndgr_pb2.py`` should hold: our header, then protoc's output unchanged."""
    from grpc_tools import protoc

    include = importlib.resources.files("grpc_tools") / "_proto"  # google/protobuf/*.proto
    with tempfile.TemporaryDirectory() as out:
        status = protoc.main(
            ["protoc", f"-I{ROOT}", f"-I{include}", f"--python_out={out}", str(ROOT / PROTO)]
        )
        if status != 0:
            raise RuntimeError(f"protoc failed on {PROTO} (exit {status})")
        body = (Path(out) / PROTO).with_name("ndgr_pb2.py").read_text(encoding="utf-8")
    tools = importlib.metadata.version("grpcio-tools")
    return HEADER.format(proto=PROTO, tools=tools) + body


if __name__ == "__main__":
    for proto, generated in TARGETS:
        generated.write_text(generate(proto), encoding="utf-8")
        print(f"wrote {generated.relative_to(ROOT)}")
