"""The tfpersist command on Keras files: what it prints agrees with what Keras holds."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from test_cli import tfp

from tfpersist import cli
from tfpersist.keras_models import save_keras_model

L = tf.keras.layers


def _model(seed: int) -> tf.keras.Model:
    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input((3,))
    return tf.keras.Model(inputs, L.BatchNormalization()(L.Dense(2)(inputs)))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """A model saved as ``.keras`` and ``.weights.h5``, another ``.keras``, and a Lambda model."""
    here = tmp_path_factory.mktemp("keras")
    model, other = _model(0), _model(1)
    paths = {
        "model": save_keras_model(model, here / "model.keras"),
        "other": save_keras_model(other, here / "other.keras"),
        "weights": str(here / "model.weights.h5"),
        "lambda": save_keras_model(
            tf.keras.Sequential([tf.keras.Input((3,)), L.Lambda(lambda x: x * 2)]),
            here / "lambda.keras",
        ),
    }
    model.save_weights(paths["weights"])
    return paths


def _json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert cli.main([*args, "--json"]) in (0, 1)
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("kind", ["model", "weights"])
def test_inspect_lists_what_keras_holds(files, kind, capsys):
    listing = _json(capsys, "inspect", files[kind])
    assert listing["prefix"] == files[kind]
    shapes = sorted(tuple(v["shape"]) for v in listing["variables"])
    assert shapes == sorted(tuple(w.shape) for w in _model(0).weights)
    for v in listing["variables"]:
        assert v["bytes"] == 4 * int(np.prod(v["shape"], dtype=np.int64))
        assert v["dtype"] == "float32"
    assert listing["total_bytes"] == sum(v["bytes"] for v in listing["variables"])


def test_export_writes_the_values_keras_saved(files, tmp_path):
    out = tmp_path / "model.npz"
    assert cli.main(["export", files["weights"], str(out)]) == 0
    model = _model(5)
    model.load_weights(files["weights"])
    with np.load(out) as exported:
        ours = sorted((a.shape, a.tobytes()) for a in exported.values())
    assert ours == sorted((tuple(w.shape), w.numpy().tobytes()) for w in model.weights)


def test_diff_and_verify(files, tmp_path, capsys):
    assert cli.main(["diff", files["model"], files["model"]]) == 0
    assert cli.main(["diff", files["model"], files["other"]]) == 1
    assert "dense/vars/0 (values differ" in capsys.readouterr().out
    assert cli.main(["verify", files["model"]]) == 0
    damaged = tmp_path / "damaged.keras"
    data = bytearray(Path(files["model"]).read_bytes())
    with zipfile.ZipFile(files["model"]) as archive:
        member = archive.getinfo("model.weights.h5")
    # a byte of the stored weights member, past its local header
    data[member.header_offset + 30 + len(member.filename) + member.file_size // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    assert cli.main(["verify", str(damaged)]) == 1
    assert "fails its CRC-32 check" in capsys.readouterr().out


def _config_naming(source: str, out: Path, module: str, function: str) -> str:
    """*source* with its Dense activation replaced by *module*.*function*."""
    with zipfile.ZipFile(source) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    config = json.loads(members["config.json"])
    dense = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")
    dense["config"]["activation"] = {
        "module": module,
        "class_name": "function",
        "config": function,
        "registered_name": None,
    }
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return str(out)


def test_audit_verdicts_and_allow_module(files, tmp_path, capsys):
    hostile = _config_naming(files["model"], tmp_path / "hostile.keras", "os", "getcwd")
    assert cli.main(["audit", files["model"], files["weights"]]) == 0
    capsys.readouterr()
    assert cli.main(["audit", files["model"], files["lambda"], hostile]) == 1
    out = capsys.readouterr().out
    assert f"{files['model']}: clean" in out
    assert "config.json at config.layers[1].config.function" in out
    assert "imports os.getcwd" in out
    report = _json(capsys, "audit", hostile, "--allow-module", "os")
    assert [f["verdict"] for f in report["files"]] == ["clean"]
    # allowing a module lets that module through, never bytecode
    assert cli.main(["audit", files["lambda"], "--allow-module", "os"]) == 1


BAD = [b"", b"not a model", b"PK\x03\x04" + bytes(60), b"\x89HDF\r\n\x1a\n" + bytes(60)]


@pytest.mark.parametrize("command", ["inspect", "verify", "audit"])
@pytest.mark.parametrize("content", BAD)
def test_bad_files_are_one_line(tmp_path, command, content):
    """Exit 2 for an input error; ``verify`` finds the file corrupt (1), as for a bad .index."""
    bad = tmp_path / "bad.keras"
    bad.write_bytes(content)
    done = tfp(command, str(bad))
    assert done.returncode == (1 if command == "verify" else 2), done
    assert "Traceback" not in done.stderr + done.stdout
    message = (done.stderr or done.stdout).strip()
    assert len(message.splitlines()) == 1 and "bad.keras" in message, message


def test_names_a_file_chose_neither_reorder_nor_redraw_the_terminal(tmp_path, capsys):
    """A weight named with U+202E would print what follows it reversed; ESC would redraw."""
    import h5py

    name = "gpj.\u202ekernel\x1b[2K"
    path = tmp_path / "names.weights.h5"
    with h5py.File(path, "w") as f:
        f[f"layers/dense/vars/{name}"] = np.ones(2, np.float32)
    assert cli.main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert not {"\u202e", "\x1b"} & set(out)
    assert "gpj.\\u202ekernel\\u001b[2K" in out
    listing = _json(capsys, "inspect", str(path))
    assert [v["name"] for v in listing["variables"]] == [f"layers/dense/vars/{name}"]


def test_every_control_and_format_character_is_escaped():
    """What cli escapes covers Unicode's categories Cc, Cf, Cs, Zl and Zp, as this Python knows them."""
    import sys
    import unicodedata

    wanted = {
        c
        for c in range(sys.maxunicode + 1)
        if c not in (0x09, 0x0A) and unicodedata.category(chr(c)) in ("Cc", "Cf", "Cs", "Zl", "Zp")
    }
    assert wanted <= set(cli._UNPRINTABLE)
    for c in (0x202E, 0x200B, 0xFEFF, 0x2028, 0xE0041):
        assert json.loads(f'"{chr(c).translate(cli._UNPRINTABLE)}"') == chr(c)
