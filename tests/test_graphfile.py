"""tfpersist's own graph decoder, held to TensorFlow's protobuf parser on many inputs.

For every input, both parsers must fail, or both must succeed and see the
same nodes, attributes, functions and saver. The inputs are graphs
TensorFlow writes, thousands of random mutations of them, and encodings
crafted at the corners of the wire format: fields set twice, merged
messages, oneof switches, unknown fields and groups, wrong wire types, bad
UTF-8, nesting at protobuf's depth limit.
"""

from __future__ import annotations

import random
from pathlib import Path

import benign
import dangerous
import pytest
import tensorflow as tf
from google.protobuf import unknown_fields
from registry.dump import ROOTS
from tensorflow.core.framework import graph_pb2
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tensorflow.python.framework import ops

from tfpersist import _graphfile, _proto_schema
from tfpersist._protobuf import TYPES
from tfpersist.errors import GraphFormatError

ATTR = TYPES["tensorflow.AttrValue"]
KINDS = {
    "GraphDef": (_graphfile.parse_graph_def, graph_pb2.GraphDef),
    "MetaGraphDef": (_graphfile.parse_meta_graph, meta_graph_pb2.MetaGraphDef),
    "SavedModel": (_graphfile.parse_saved_model, saved_model_pb2.SavedModel),
}


def _ours_value(value, message):
    """Drop what proto3 cannot tell from unset: non-oneof scalars at their default, empties."""
    if not isinstance(value, dict):
        return value
    out = {}
    fields = {f.name: f for f in message.fields.values()}
    for key, v in value.items():
        f = fields[key]
        if f.map:
            sub = f.message.fields[2]
            v = {
                k: _ours_value(x, sub.message) if sub.kind == "message" else x for k, x in v.items()
            }
        elif f.kind == "message":
            v = [_ours_value(x, f.message) for x in v] if f.repeated else _ours_value(v, f.message)
        elif not f.repeated and f.oneof is None and v in (0, 0.0, False, "", b""):
            continue
        if f.repeated and not v:
            continue
        out[key] = v
    return out


def _theirs_value(proto, message):
    """A protobuf message as tfpersist's decoder represents it."""
    out = {}
    for descriptor, value in proto.ListFields():
        f = message.fields[descriptor.number]
        if f.map:
            sub = f.message.fields[2]
            out[f.name] = {
                k: _theirs_value(v, sub.message) if sub.kind == "message" else v
                for k, v in value.items()
            }
        elif f.kind == "message":
            if not f.message.build:
                continue
            out[f.name] = (
                [_theirs_value(v, f.message) for v in value]
                if f.repeated
                else _theirs_value(value, f.message)
            )
        else:
            out[f.name] = list(value) if f.repeated else value
    return out


def _ours_node(n):
    attrs = {k: _ours_value(v, ATTR) for k, v in n.attrs.items()}
    return (n.name, n.op, list(n.inputs), n.device, attrs)


def _theirs_node(n):
    attrs = {k: _theirs_value(v, ATTR) for k, v in n.attr.items()}
    return (n.name, n.op, list(n.input), n.device, attrs)


def _ours(meta):
    functions = [
        (f.name, f.args, f.outputs, [_ours_node(n) for n in f.nodes], f.ret)
        for f in meta.graph.functions
    ]
    return ([_ours_node(n) for n in meta.graph.nodes], functions, meta.saver, meta.tags)


def _theirs(meta):
    for key, collection in meta.collection_def.items():  # as the importer decodes them
        proto = ops.get_collection_proto_type(key)
        if proto is not None and collection.WhichOneof("kind") == "bytes_list":
            for entry in collection.bytes_list.value:
                proto().ParseFromString(entry)
    s = meta.saver_def
    saver = None
    if s.filename_tensor_name or s.save_tensor_name or s.restore_op_name:
        saver = _graphfile.Saver(
            s.filename_tensor_name, s.save_tensor_name, s.restore_op_name, s.version
        )
    functions = [
        (
            f.signature.name,
            [a.name for a in f.signature.input_arg],
            [a.name for a in f.signature.output_arg],
            [_theirs_node(n) for n in f.node_def],
            dict(f.ret),
        )
        for f in meta.graph_def.library.function
    ]
    nodes = [_theirs_node(n) for n in meta.graph_def.node]
    return (nodes, functions, saver, tuple(meta.meta_info_def.tags))


def dropped_map_entry(proto) -> bool:
    """Whether Python's parser set aside a map entry of *proto*, or of a message inside it.

    It sets aside an entry holding any field besides its key and value;
    TensorFlow's C++ parser, which imports the graph, keeps that entry. The
    two parsers of TensorFlow then disagree, and tfpersist refuses the file.
    """
    maps = {
        f.number
        for f in proto.DESCRIPTOR.fields
        if f.message_type and f.message_type.GetOptions().map_entry
    }
    unknown = unknown_fields.UnknownFieldSet(proto)
    if any(u.field_number in maps and u.wire_type == 2 for u in unknown):
        return True
    for f, value in proto.ListFields():
        if f.message_type is None:
            continue
        if f.message_type.GetOptions().map_entry:
            values = [v for v in value.values() if hasattr(v, "DESCRIPTOR")]
        else:
            repeated = f.label == f.LABEL_REPEATED if hasattr(f, "label") else f.is_repeated
            values = list(value) if repeated else [value]
        if any(dropped_map_entry(v) for v in values):
            return True
    return False


def decoded(data: bytes, kind: str) -> tuple[object, object]:
    """What tfpersist and TensorFlow make of *data*: a canonical structure each, or ``error``.

    TensorFlow's is ``error`` where its own parsers disagree (:func:`dropped_map_entry`).
    """
    parse, proto = KINDS[kind]
    try:
        found = parse(data)
        ours = [_ours(m) for m in (found if isinstance(found, list) else [found])]
    except GraphFormatError:
        ours = "error"
    try:
        message = proto()
        message.ParseFromString(data)
        if kind == "GraphDef":
            metas = [meta_graph_pb2.MetaGraphDef(graph_def=message)]
        elif kind == "MetaGraphDef":
            metas = [message]
        else:
            metas = list(message.meta_graphs)
        theirs = (
            [_theirs(m) for m in metas] if metas and not dropped_map_entry(message) else "error"
        )
    except Exception:  # google.protobuf.message.DecodeError; its import path varies
        theirs = "error"
    return ours, theirs


@pytest.fixture(scope="module")
def samples(tmp_path_factory, two_cpus):
    """Graph files TensorFlow writes: ``(name, bytes, kind)``."""
    d = tmp_path_factory.mktemp("samples")
    found = []
    for name, path in benign.all_files(d / "benign").items():
        if path.is_dir():
            found.append((name, (path / "saved_model.pb").read_bytes(), "SavedModel"))
        elif path.suffix == ".meta":
            found.append((name, path.read_bytes(), "MetaGraphDef"))
        else:
            found.append((name, path.read_bytes(), "GraphDef"))
    for case in dangerous.CASES[::3]:
        case_dir = d / case.id
        dangerous.prepare(case_dir)
        found.append((case.id, case.write(case_dir).read_bytes(), "GraphDef"))
    return found


def test_tensorflow_written_files_decode_as_tensorflow_reads_them(samples):
    for name, data, kind in samples:
        ours, theirs = decoded(data, kind)
        assert theirs != "error", name
        assert ours == theirs, name


def test_mutated_files_decode_or_fail_as_tensorflow_does(samples, record_property):
    rng = random.Random(20261130)
    small = [s for s in samples if len(s[1]) < 100_000]
    outcomes = {"both fail": 0, "both agree": 0}
    for trial in range(1500):
        name, data, kind = small[trial % len(small)]
        mutated = bytearray(data)
        at = rng.randrange(len(mutated))
        action = rng.randrange(4)
        if action == 0:
            mutated[at] = rng.randrange(256)
        elif action == 1:
            del mutated[at : at + rng.randrange(1, 8)]
        elif action == 2:
            mutated[at:at] = rng.randbytes(rng.randrange(1, 6))
        else:
            del mutated[at:]
        ours, theirs = decoded(bytes(mutated), kind)
        assert ours == theirs, (name, trial, action, at)
        outcomes["both fail" if ours == "error" else "both agree"] += 1
    record_property("rounds", 1500)
    assert outcomes["both fail"] > 100 and outcomes["both agree"] > 100, outcomes


# --- crafted encodings -------------------------------------------------------------------


def varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([low | 0x80])


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def number(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def node(*parts: bytes) -> bytes:
    return field(1, b"".join(parts))  # GraphDef.node


def attr(key: bytes, value: bytes) -> bytes:
    return field(5, field(1, key) + field(2, value))  # NodeDef.attr entry


NAME, OP = field(1, b"n"), field(2, b"Const")
TYPE_FLOAT = number(6, 1)  # AttrValue.type


def nested_funcs(depth: int) -> bytes:
    value = field(2, b"x")
    for _ in range(depth):
        value = field(10, field(1, b"f") + field(2, field(1, b"k") + field(2, value)))
    return node(NAME, OP, attr(b"a", value))


CRAFTED = {
    "op set twice: the later wins": node(NAME, OP, field(2, b"ReadFile")),
    "op sent as a varint: an unknown field": node(NAME, number(2, 7)),
    "name with byte 0xFF": node(field(1, b"n\xff"), OP),
    "input with a broken UTF-8 sequence": node(NAME, OP, field(3, b"\xe2\x82")),
    "attr key that is not UTF-8": node(NAME, OP, attr(b"\xc3\x28", TYPE_FLOAT)),
    "attr entry with an unknown field": node(
        NAME, OP, field(5, field(1, b"k") + field(2, TYPE_FLOAT) + number(3, 1))
    ),
    "attr entry with a group": node(
        NAME, OP, field(5, field(1, b"k") + field(2, TYPE_FLOAT) + b"\x1b\x1c")
    ),
    "attr entry without a key": node(NAME, OP, field(5, field(2, TYPE_FLOAT))),
    "attr entry with its value sent as a varint": node(
        NAME, OP, field(5, field(1, b"k") + number(2, 1))
    ),
    "function ret entry with an unknown field": field(
        2,
        field(
            1, field(1, field(1, b"f")) + field(4, field(1, b"y") + field(2, b"x") + number(3, 1))
        ),
    ),
    "a func attr's own attr entry with an unknown field": node(
        NAME,
        OP,
        attr(
            b"f",
            field(
                10, field(1, b"g") + field(2, field(1, b"k") + field(2, TYPE_FLOAT) + number(3, 1))
            ),
        ),
    ),
    "attr set twice: the later entry wins": node(
        NAME, OP, attr(b"k", TYPE_FLOAT), attr(b"k", field(2, b"text"))
    ),
    "oneof switched and back: only the last survives": node(
        NAME,
        OP,
        attr(b"k", field(1, number(3, 1)) + field(2, b"s") + field(1, number(3, 2))),
    ),
    "oneof message set twice: merged": node(
        NAME, OP, attr(b"k", field(1, number(3, 1)) + field(1, number(3, 2)))
    ),
    "packed and unpacked ints in one list": node(
        NAME, OP, attr(b"k", field(1, field(3, b"\x01\x02") + number(3, 3)))
    ),
    "packed varints cut short": node(NAME, OP, attr(b"k", field(1, field(3, b"\x01\x82")))),
    "packed floats of 6 bytes": node(NAME, OP, attr(b"k", field(1, field(4, b"\0" * 6)))),
    "func attr with a name that is not UTF-8": node(
        NAME, OP, attr(b"f", field(10, field(1, b"\xff")))
    ),
    "tensor attr with a negative dimension": node(
        NAME, OP, attr(b"value", field(8, number(1, 1) + field(2, field(2, number(1, 2**64 - 1)))))
    ),
    "library sent twice: merged": field(2, field(1, field(1, field(1, b"f1"))))
    + field(2, field(1, field(1, field(1, b"f2")))),
    "library sent twice, the first cut inside a field": field(2, b"\x72\x04ab") + field(2, b"cd"),
    "library sent twice, each whole": field(2, b"\x72\x02ab") + field(2, b"\x72\x00"),
    "attr value sent twice in an entry, the first cut inside a field": node(
        NAME, OP, field(5, field(1, b"k") + field(2, b"\x12\x04ab") + field(2, b"cd"))
    ),
    "debug info, which 2.12 does not know, holding a damaged field": field(5, b"\x12\x05ab"),
    "unknown group at the top": b"\x1b" + number(1, 5) + b"\x1c" + node(NAME, OP),
    "group that never ends": b"\x1b" + number(1, 5),
    "group ended by the wrong field": b"\x1b\x24",
    "end-group tag alone": b"\x0c",
    "field number 0": number(0, 1),
    "field number 2**29 - 1": varint((2**29 - 1) << 3) + varint(1),
    "field number 2**29": varint(2**29 << 3) + varint(1),
    "wire type 6": b"\x0e\x00",
    "varint of 11 bytes": b"\x20" + b"\xff" * 10 + b"\x01",
    "varint of 10 bytes": b"\x20" + b"\xff" * 9 + b"\x01",
    "length past the end": b"\x0a\x7f\x01",
    "length of 2**64 - 1": b"\x0a" + b"\xff" * 9 + b"\x01",
    "tag cut in the middle": b"\x80",
    "empty": b"",
    "nesting just under the limit": nested_funcs(32),
    "nesting at the limit": nested_funcs(33),
    "versions with an unknown field": field(4, number(1, 5) + number(9, 1)),
    "op behind an overlong tag": node(NAME, b"\x92\x00" + varint(8) + b"ReadFile"),
    "node behind a tag of 5 bytes": b"\x8a\x80\x80\x80\x00" + node(NAME, OP)[1:],
    "node behind a tag of 6 bytes": b"\x8a\x80\x80\x80\x80\x00" + node(NAME, OP)[1:],
    "tag past 32 bits": b"\x8a\x80\x80\x80\x70" + node(NAME, OP)[1:],
    "attr key behind an overlong tag": node(
        NAME, OP, field(5, b"\x8a\x00\x01k" + field(2, TYPE_FLOAT))
    ),
    "attr value behind an overlong tag": node(
        NAME, OP, field(5, field(1, b"k") + b"\x92\x80\x00" + varint(2) + TYPE_FLOAT)
    ),
    "length in 5 bytes": b"\x0a\x89\x80\x80\x80\x00" + NAME + field(2, b"NoOp"),
    "length in 6 bytes": b"\x0a\x89\x80\x80\x80\x80\x00" + NAME + field(2, b"NoOp"),
    "length in 10 bytes": b"\x0a\x89" + b"\x80" * 8 + b"\x00" + NAME + field(2, b"NoOp"),
    "node length in 6 bytes": node(NAME, b"\x12\x84\x80\x80\x80\x80\x00NoOp"),
    "unknown field with a length in 6 bytes": b"\x7a\x81\x80\x80\x80\x80\x00x",
    "unknown group holding field number 0": b"\x73\x05abcd\x74" + node(NAME, OP),
    "unknown group holding a group of field number 0": b"\x73\x03\x04\x74",
    "unknown group holding an end tag of field number 0": b"\x73\x04\x74",
    "unknown group ended by an overlong tag": b"\x73\x08\x01\xf4\x00" + node(NAME, OP),
    "unknown group holding a length in 6 bytes": b"\x73\x7a\x81\x80\x80\x80\x80\x00x\x74",
    "debug info with a string that is not UTF-8": field(5, field(1, b"\xff")),
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_graph_defs_decode_as_tensorflow_does(name):
    ours, theirs = decoded(CRAFTED[name], "GraphDef")
    assert ours == theirs


META_CRAFTED = {
    "graph_def sent twice: merged": field(2, node(NAME, OP)) + field(2, node(field(1, b"m"), OP)),
    "saver_def sent twice: merged": field(3, field(1, b"a:0")) + field(3, field(3, b"r")),
    "tags": field(1, field(4, b"serve") + field(4, b"train")),
    "tag that is not UTF-8": field(1, field(4, b"\xff")),
    "signature with a method name that is not UTF-8": field(
        5, field(1, b"k") + field(2, field(3, b"\xff"))
    ),
    "collection with a node name that is not UTF-8": field(
        4, field(1, b"k") + field(2, field(1, field(1, b"\xff")))
    ),
    "object graph with bad UTF-8 deep inside": field(7, field(1, field(2, field(2, b"\xff")))),
    "collection entry with an unknown field": field(
        4, field(1, b"k") + field(2, field(1, field(1, b"n"))) + number(3, 1)
    ),
    "signature input entry with an unknown field": field(
        5,
        field(1, b"s")
        + field(2, field(1, field(1, b"x") + field(2, field(1, b"x:0")) + number(3, 1))),
    ),
}


@pytest.mark.parametrize("name", sorted(META_CRAFTED))
def test_crafted_meta_graphs_decode_as_tensorflow_does(name):
    ours, theirs = decoded(META_CRAFTED[name], "MetaGraphDef")
    assert ours == theirs
    saved = field(2, META_CRAFTED[name])  # the same, as a SavedModel's meta graph
    assert decoded(saved, "SavedModel")[0] == decoded(saved, "SavedModel")[1]


def test_collections_decoded_are_those_tensorflow_decodes():
    registered = ops._proto_function_registry.list()
    assert {k: ops.get_collection_proto_type(k).DESCRIPTOR.full_name for k in registered} == (
        _graphfile.COLLECTION_TYPES
    )


def test_schema_matches_tensorflow_descriptors():
    """The fields tfpersist decodes are those this TensorFlow's graph protos have, the same way."""
    from google.protobuf import descriptor, descriptor_pb2

    kinds = {
        v: k[5:].lower()
        for k, v in vars(descriptor.FieldDescriptor).items()
        if k.startswith("TYPE_")
    }
    seen: set[str] = set()
    todo = list(ROOTS)
    while todo:
        message = todo.pop()
        if message.full_name in seen:
            continue
        seen.add(message.full_name)
        ours = {n: f for n, f in TYPES[message.full_name].fields.items()}
        assert sorted(ours) == sorted(f.number for f in message.fields), message.full_name
        ours = {n: _proto_schema.SCHEMA[message.full_name][n] for n in ours}
        file = descriptor_pb2.FileDescriptorProto()
        message.file.CopyToProto(file)
        for f in message.fields:
            name, kind, repeated, oneof, sub, is_map = ours[f.number]
            expected = kinds[f.type]
            if expected == "string" and file.syntax != "proto3":
                expected = "bytes"  # protobuf checks UTF-8 in proto3 strings only
            assert (name, kind) == (f.name, expected), message.full_name
            assert oneof == (f.containing_oneof.name if f.containing_oneof else None)
            listed = f.label == f.LABEL_REPEATED if hasattr(f, "label") else f.is_repeated
            assert repeated == listed, (message.full_name, name)
            assert is_map == bool(f.message_type and f.message_type.GetOptions().map_entry)
            if f.message_type is not None:
                assert sub == f.message_type.full_name
                todo.append(f.message_type)
    assert seen <= set(_proto_schema.SCHEMA)


def test_a_map_entry_python_sets_aside_is_one_tensorflow_imports(tmp_path: Path):
    """Why tfpersist refuses such an entry: the attribute Python hides is the one that runs."""
    entry = field(1, b"output_stream") + field(2, field(2, b"stdout"))  # key, value s
    hidden = field(5, entry + number(3, 1))  # the entry, plus a field 3
    text = node(field(1, b"t"), field(2, b"Const"), attr(b"dtype", number(6, 7)),
                attr(b"value", field(8, number(1, 7) + field(8, b"hi"))))  # fmt: skip
    printer = node(field(1, b"p"), field(2, b"PrintV2"), field(3, b"t"), hidden)
    python = graph_pb2.GraphDef.FromString(text + printer)
    assert "output_stream" not in python.node[1].attr
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(python, name="")
    assert graph.get_operation_by_name("p").get_attr("output_stream") == b"stdout"
    with pytest.raises(GraphFormatError, match="holds a field besides its key and value"):
        _graphfile.parse_graph_def(text + printer)


def test_a_saved_model_pb_named_directly_reads_as_its_directory(samples, tmp_path: Path):
    _, data, _ = next(s for s in samples if s[2] == "SavedModel")
    (tmp_path / "saved_model.pb").write_bytes(data)
    direct = _graphfile.read_graph_file(tmp_path / "saved_model.pb")
    assert [_ours(m) for m in direct] == [_ours(m) for m in _graphfile.read_graph_file(tmp_path)]


def test_a_directory_without_saved_model_pb_and_a_missing_file(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"without saved_model\.pb"):
        _graphfile.read_graph_file(tmp_path)
    with pytest.raises(FileNotFoundError, match="no graph file at"):
        _graphfile.read_graph_file(tmp_path / "none.meta")
