"""Dump what one TensorFlow release knows: its registered ops and its graph protos' schema.

Run by ``tests/registry/build.py`` with each release's own Python::

    python tests/registry/dump.py OUT.json

Writes ``{"release", "ops": {name: {"stateful", "doc", "inputs", "attrs"}}, "schema"}``.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf
from google.protobuf import descriptor, descriptor_pb2
from tensorflow.core.framework import op_def_pb2, variable_pb2
from tensorflow.core.protobuf import control_flow_pb2, queue_runner_pb2, saved_model_pb2
from tensorflow.python.client import pywrap_tf_session

KINDS = {
    v: k[5:].lower() for k, v in vars(descriptor.FieldDescriptor).items() if k.startswith("TYPE_")
}


def registered_ops() -> dict[str, dict]:
    """Every op in the registry, with what a reviewer needs to classify it."""
    buffer = pywrap_tf_session.TF_GetAllOpList()
    ops = op_def_pb2.OpList()
    ops.ParseFromString(pywrap_tf_session.TF_GetBuffer(buffer))
    out = {}
    for op in ops.op:
        wrapper = getattr(tf.raw_ops, op.name, None)
        doc = (wrapper.__doc__ or "").strip().split("\n\n")[0] if wrapper else ""
        out[op.name] = {
            "stateful": op.is_stateful,
            "doc": " ".join((doc or op.summary).split())[:300],
            "inputs": [a.name for a in op.input_arg],
            "attrs": [a.name for a in op.attr],
        }
    return out


#: The messages a graph file holds, directly or as bytes TensorFlow decodes on import.
ROOTS = (
    saved_model_pb2.SavedModel.DESCRIPTOR,
    variable_pb2.VariableDef.DESCRIPTOR,
    queue_runner_pb2.QueueRunnerDef.DESCRIPTOR,
    control_flow_pb2.CondContextDef.DESCRIPTOR,
    control_flow_pb2.WhileContextDef.DESCRIPTOR,
)


def schema() -> dict[str, dict[int, list]]:
    """Every message type a SavedModel can hold, field by field, as tfpersist._protobuf reads it.

    Besides ``SavedModel`` and what it holds, that is the messages a
    collection keeps as bytes and TensorFlow decodes when it imports one.
    """
    out: dict[str, dict[int, list]] = {}
    todo = list(ROOTS)
    while todo:
        message = todo.pop()
        if message.full_name in out:
            continue
        proto = descriptor_pb2.FileDescriptorProto()
        message.file.CopyToProto(proto)
        proto3 = proto.syntax == "proto3"
        fields = out[message.full_name] = {}
        for f in message.fields:
            kind = KINDS[f.type]
            if kind == "string" and not proto3:
                kind = "bytes"  # proto2 strings are not checked for UTF-8
            repeated = f.label == f.LABEL_REPEATED if hasattr(f, "label") else f.is_repeated
            sub = f.message_type
            fields[f.number] = [
                f.name,
                kind,
                repeated,
                f.containing_oneof.name if f.containing_oneof else None,
                sub.full_name if sub else None,
                bool(sub and sub.GetOptions().map_entry),
            ]
            if sub is not None:
                todo.append(sub)
    return out


if __name__ == "__main__":
    document = {"release": tf.__version__, "ops": registered_ops(), "schema": schema()}
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(document, f)
    print(f"TensorFlow {tf.__version__}: {len(document['ops'])} ops")
