"""Tables of measured results, built from the committed JSON at each docs build.

``.. benchmark:: results|async|rename|audit|scanners`` reads ``docs/benchmarks/<name>.json``
(written by ``tox -e bench``); ``.. compat-matrix::`` reads
``docs/compat/results.json`` (written by ``tox -e compat``). The JSON is the only
source: no figure is copied into a page.

Words that never change (headers, row labels, outcomes, sentences around the
figures) are gettext messages of the page that shows them, so the Chinese
catalog of that page translates them. Figures are not messages: a sentence
with figures is a message with ``{placeholders}``, filled in after translation,
so a new run never leaves a message untranslated.
"""

from __future__ import annotations

import json
import os
from collections import Counter

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Outcome word -> CSS class (docs/_static/tfpersist.css) of its cell.
OUTCOMES = {
    "ok": "outcome-ok",
    "repaired": "outcome-repaired",
    "failed": "outcome-failed",
    "missed": "outcome-failed",
    "caught": "outcome-ok",
    "passed": "outcome-ok",
    "false alarm": "outcome-failed",
}

SCENARIOS = {
    "gib": "Restore, then save, 1 GiB: 64 variables of 16 MiB float32",
    "many": "Restore, then save, 10,000 variables of 8 float32",
    "freeze": "Freeze a 196 MiB model, write, load and run the .pb",
    "inspect": "Read without TensorFlow",
}
TARGET_LEGEND = {"ok": "meets the target", "missed": "falls short of the target"}
AUDIT_MODELS = {
    "small": "MobileNetV3Small (Keras, weights=None)",
    "large": "NASNetLarge and EfficientNetB0 in one module (Keras, weights=None)",
}


class _Cells:
    """Makes the cells of one directive: fixed words are messages, figures are not."""

    def __init__(self, directive: SphinxDirective):
        self.source, self.line = directive.get_source_info()

    def label(self, text: str, cls: type = nodes.paragraph, **fields: object) -> nodes.Element:
        """A fixed word or sentence: a message of the page's catalog."""
        node = cls(text, text)
        node.source, node.line = self.source, self.line
        if fields:
            node["fields"] = {k: str(v) for k, v in fields.items()}
        return node

    @staticmethod
    def value(text: object) -> nodes.paragraph:
        """A figure or a name from the data: never a message."""
        return nodes.paragraph("", str(text), translatable=False)

    @classmethod
    def number(cls, text: object) -> tuple[nodes.paragraph, str]:
        """A figure, aligned to the right of its column."""
        return cls.value(text), "number"

    def outcome(self, word: str) -> tuple[nodes.paragraph, str]:
        return self.label(word), OUTCOMES[word]


def _table(heads: list, rows: list, classes: list[str], title=None) -> nodes.table:
    """A table: a header row, then rows; a one-cell row is a group title across the table.

    A cell is a paragraph, or a (paragraph, CSS class) pair.
    """
    table = nodes.table(classes=["results-table", "colwidths-auto", *classes])
    if title is not None:
        table += title
    group = nodes.tgroup(cols=len(heads))
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in heads)
    head, body = nodes.thead(), nodes.tbody()
    group += head
    group += body
    head += nodes.row("", *(nodes.entry("", h) for h in heads))
    for cells in rows:
        if len(cells) == 1:
            body += nodes.row(
                "", nodes.entry("", cells[0], morecols=len(heads) - 1), classes=["group-title"]
            )
            continue
        row = nodes.row()
        for cell in cells:
            cell, css = cell if isinstance(cell, tuple) else (cell, None)
            row += nodes.entry("", cell, classes=[css] if css else [])
        body += row
    return table


def _legend(c: _Cells, meanings: dict[str, str]) -> nodes.definition_list:
    """Every outcome word a table can show, with its colour and meaning.

    Listing all of them, not only those of this run, keeps the page's messages the
    same from run to run: a first failure never brings an untranslated word.
    """
    items = []
    for word, meaning in meanings.items():
        term = c.label(word, nodes.term)
        term["classes"].append(OUTCOMES[word])
        items.append(nodes.definition_list_item("", term, nodes.definition("", c.label(meaning))))
    return nodes.definition_list("", *items, classes=["outcome-legend"])


def _run_line(c: _Cells, data: dict) -> nodes.Element:
    """The line under a scenario: when, how often, on what, and on which disk if it wrote files."""
    m = data["machine"]
    fields = {
        "date": data["date"],
        "runs": data["rounds"],
        "cpu": m["cpu"],
        "cores": m["cores"],
        "tensorflow": m["tensorflow"],
    }
    if "files" in data:
        return c.label(
            "{date}: median of {runs} runs per contender, each in a fresh process; "
            "files on {files}; {cpu}, {cores} cores; TensorFlow {tensorflow}.",
            files=data["files"],
            **fields,
        )
    return c.label(
        "{date}: median of {runs} runs per contender, each a fresh process; "
        "{cpu}, {cores} cores; TensorFlow {tensorflow}.",
        **fields,
    )


def _timings(
    c: _Cells, seconds: dict, baseline: float, title: nodes.Element, css: str
) -> nodes.table:
    """One table of whole-process timings, each also as a ratio to *baseline*."""
    heads = [c.label("contender"), c.label("seconds"), c.label("times faster")]
    body = [
        [c.label(who), c.number(f"{t:.3f}"), c.number(f"{baseline / t:.1f}×")]
        for who, t in seconds.items()
    ]
    return _table(heads, body, [css], title)


class _DataDirective(SphinxDirective):
    def load(self, *parts: str) -> dict:
        path = os.path.join(HERE, *parts)
        self.env.note_dependency(path)
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            raise self.error(f"cannot read {path} ({e}): run the tox env that writes it") from e


class Benchmark(_DataDirective):
    """``.. benchmark:: NAME``: docs/benchmarks/NAME.json as tables."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        render = getattr(self, "_" + name, None)
        if render is None:
            raise self.error(
                f"unknown benchmark {name!r}: results, async, rename, audit, keras or scanners"
            )
        return render(self.load("benchmarks", name + ".json"), _Cells(self))

    def _results(self, data: dict, c: _Cells) -> list[nodes.Node]:
        found: list[nodes.Node] = []
        for scenario in data["scenarios"]:
            rows = scenario["rows"]
            numpy = "numpy" in rows[0]["seconds"]
            heads = [c.label("operation"), c.label("tfpersist (s)"), c.label("TensorFlow (s)")]
            heads += [c.label("NumPy (s)")] if numpy else []
            heads += [c.label("speed vs TF"), c.label("target"), c.label("outcome")]
            body = []
            for row in rows:
                s, r = row["seconds"], row["ratios"]
                target = row["targets"]["speed_vs_tensorflow"]
                body.append([
                    c.label(row["operation"]),
                    c.number(f"{s['tfpersist']:.3f}"),
                    c.number(f"{s['tensorflow']:.3f}"),
                    *([c.number(f"{s['numpy']:.3f}")] if numpy else []),
                    c.number(f"{r['speed_vs_tensorflow']:.2f}×"),
                    c.label("at least {target}×", target=f"{target:g}"),
                    c.outcome("ok" if r["speed_met"] else "missed"),
                ])  # fmt: skip
            title = c.label(SCENARIOS[scenario["scenario"]], nodes.title)
            found.append(_table(heads, body, ["bench-results"], title))
            if numpy:
                heads = [c.label("operation"), c.value("tfpersist"), c.value("TensorFlow")]
                heads += [c.label("target"), c.label("outcome")]
                body = []
                for row in rows:
                    r, target = row["ratios"], row["targets"].get("tfpersist_vs_numpy")
                    body.append([
                        c.label(row["operation"]),
                        c.number(f"{r['tfpersist_vs_numpy']:.2f}"),
                        c.number(f"{r['tensorflow_vs_numpy']:.2f}"),
                        *(
                            [c.value("–"), c.value("–")]
                            if target is None
                            else [
                                c.label("at least {target}", target=f"{target:g}"),
                                c.outcome("ok" if r["numpy_met"] else "missed"),
                            ]
                        ),
                    ])  # fmt: skip
                title = c.label("Share of the NumPy limit (tofile and fromfile)", nodes.title)
                found.append(_table(heads, body, ["bench-numpy"], title))
            peaks = [row for row in rows if "peak_above" in row]
            if peaks and scenario["scenario"] == "gib":
                ceiling = peaks[0]["targets"]["restore_peak_above"]
                heads = [c.label("operation"), c.value("tfpersist"), c.value("TensorFlow")]
                heads += [c.value("NumPy"), c.label("at most {ceiling}", ceiling=ceiling)]
                body = []
                for row in peaks:
                    p = row["peak_above"]  # a restore that frees what it replaces can end below 0
                    body.append([
                        c.label(row["operation"]),
                        *(c.number(f"{max(p[k], 0):.2f}") for k in ("tfpersist", "tensorflow", "numpy")),
                        c.outcome("ok" if row["ratios"]["memory_met"] else "missed"),
                    ])  # fmt: skip
                title = c.label(
                    "Restore peak memory above the memory before, in checkpoint sizes", nodes.title
                )
                found.append(_table(heads, body, ["bench-memory"], title))
        found.append(_legend(c, TARGET_LEGEND))
        m = data["machine"]
        found.append(
            c.label(
                "{date}: median of {runs} runs per contender, each in a fresh process; "
                "{cpu}, {cores} cores, {memory} GiB RAM; files on {files}; {os}; "
                "Python {python}, TensorFlow {tensorflow}; the run took {minutes} minutes.",
                date=data["date"],
                runs=data["runs"],
                cpu=m["cpu"],
                cores=m["cores"],
                memory=m["memory_gib"],
                files=m["files"],
                os=m["os"],
                python=m["python"],
                tensorflow=m["tensorflow"],
                minutes=f"{data['seconds'] / 60:.1f}",
            )
        )
        return found

    def _async(self, data: dict, c: _Cells) -> list[nodes.Node]:
        steps, loop, per_save = data["steps"], data["seconds"], data["per_save"]
        heads = [c.label("saves"), c.label("total (s)"), c.label("per step (s)")]
        heads += [c.label("cost per save (s)")]
        names = {"none": "no saves", "sync": "sync saves", "async": "async saves"}
        body = [
            [
                c.label(label),
                c.number(f"{loop[who]:.3f}"),
                c.number(f"{loop[who] / steps:.3f}"),
                c.number(f"{per_save[who]:.3f}" if who in per_save else "–"),
            ]
            for who, label in names.items()
        ]
        title = c.label(
            "{steps} training steps of a 256 MiB model, a save every {every} steps",
            nodes.title,
            steps=steps,
            every=steps // data["saves"],
        )
        return [
            _table(heads, body, ["bench-async"], title),
            c.label(
                "Asynchronous saves cost {ratio} of what synchronous saves cost.",
                ratio=f"{per_save['async'] / per_save['sync']:.2f}",
            ),
            _run_line(c, data),
        ]

    def _rename(self, data: dict, c: _Cells) -> list[nodes.Node]:
        names = {
            "keep": "tfpersist rename, every tensor kept (hard links)",
            "drop": "tfpersist rename, one tensor dropped (the rest copied)",
            "tensorflow": "TensorFlow: load_checkpoint, then SaveV2",
        }
        rows = data["rows"]
        baseline = next(row["seconds"] for row in rows if row["contender"] == "tensorflow")
        target = next(row["target_peak_mib"] for row in rows if "target_peak_mib" in row)
        heads = [c.label("contender"), c.label("seconds"), c.label("speed vs TF")]
        heads += [c.label("peak RSS (MiB)"), c.label("above the RSS before (MiB)")]
        heads += [c.label("peak below {target} MiB", target=target)]
        body = [
            [
                c.label(names[row["contender"]]),
                c.number(f"{row['seconds']:.3f}"),
                c.number(f"{baseline / row['seconds']:.1f}×"),
                c.number(f"{row['peak_mib']:.0f}"),
                c.number(f"{max(row['peak_above_mib'], 0):.0f}"),
                c.outcome("ok" if row["memory_met"] else "missed")
                if "memory_met" in row
                else c.value("–"),
            ]
            for row in rows
        ]
        title = c.label(
            "Rename a checkpoint of {size} MiB: {count} float32 tensors of {each} MiB",
            nodes.title,
            size=f"{data['bytes'] / 2**20:g}",
            count=data["tensors"],
            each=f"{data['bytes'] / data['tensors'] / 2**20:g}",
        )
        return [
            _table(heads, body, ["bench-rename"], title),
            _legend(c, TARGET_LEGEND),
            _run_line(c, data),
        ]

    def _audit(self, data: dict, c: _Cells) -> list[nodes.Node]:
        tables = [
            _timings(
                c,
                row["seconds"],
                row["seconds"]["audit through TensorFlow"],
                c.label(
                    AUDIT_MODELS[row["model"]] + ": {total} MB in all, saved_model.pb {graph} MB",
                    nodes.title,
                    total=f"{row['total_bytes'] / 1e6:.1f}",
                    graph=f"{row['graph_bytes'] / 1e6:.1f}",
                ),
                "bench-audit",
            )
            for row in data["rows"]
        ]
        return [
            *tables,
            c.label(
                "“Times faster” compares each contender with the audit through "
                "TensorFlow, whose import is included."
            ),
            _run_line(c, data),
        ]

    def _keras(self, data: dict, c: _Cells) -> list[nodes.Node]:
        tables = [
            _timings(
                c,
                row["seconds"],
                list(row["seconds"].values())[-1],  # Keras loading the file
                c.label(
                    "{model} as {kind}: {size} MB, {variables} variables",
                    nodes.title,
                    model=data["model"],
                    kind=row["file"],
                    size=f"{row['bytes'] / 1e6:.1f}",
                    variables=data["variables"],
                ),
                "bench-keras",
            )
            for row in data["rows"]
        ]
        return [
            *tables,
            c.label(
                "“Times faster” compares each contender with Keras loading the same file, "
                "its import included."
            ),
            _run_line(c, data),
        ]

    def _scanners(self, data: dict, c: _Cells) -> list[nodes.Node]:
        names = list(data["versions"])
        heads = [c.label("file"), *(c.value(f"{n} ({v})") for n, v in data["versions"].items())]
        titles = {
            "dangerous": "dangerous: reads, writes or runs what it should not",
            "real": "real: written by TensorFlow",
        }
        totals = {"dangerous": "caught, of {count}", "real": "false alarms, of {count}"}
        rows: list[list] = []
        for kind in ("dangerous", "real"):
            files = [f for f in data["files"] if f["kind"] == kind]
            rows.append([c.label(titles[kind])])
            for f in files:
                marks = [
                    ("caught" if f["flagged"][n] else "missed")
                    if kind == "dangerous"
                    else ("false alarm" if f["flagged"][n] else "passed")
                    for n in names
                ]
                rows.append([c.value(f["name"]), *(c.outcome(m) for m in marks)])
            counts = [c.number(sum(f["flagged"][n] for f in files)) for n in names]
            rows.append([c.label(totals[kind], count=len(files)), *counts])
        legend = {
            "caught": "a dangerous file reported",
            "missed": "a dangerous file let through",
            "passed": "a real file let through",
            "false alarm": "a real file reported",
        }
        found: list[nodes.Node] = [_table(heads, rows, ["scanner-results"]), _legend(c, legend)]
        sources = sorted({f["source"] for f in data["files"] if f["source"] != "built"})
        if sources:
            found.append(c.label("The real files from public repositories:"))
            items = [
                nodes.list_item("", nodes.paragraph("", "", nodes.literal(text=s))) for s in sources
            ]
            found.append(nodes.bullet_list("", *items))
        return found


class CompatMatrix(_DataDirective):
    """``.. compat-matrix::``: docs/compat/results.json as a table, a cell per writer and reader."""

    def run(self) -> list[nodes.Node]:
        data = self.load("compat", "results.json")
        c, releases, cells = _Cells(self), data["releases"], data["cells"]
        at = {(x["writer"], x["kind"], x["reader"]): x for x in cells}
        kinds = list(dict.fromkeys(x["kind"] for x in cells))
        heads = [c.label("artifact"), *(c.value(r) for r in releases)]
        rows: list[list] = []
        for writer in releases:
            rows.append([c.label("written by TensorFlow {release}", release=writer)])
            for kind in kinds:
                row = [c.label(kind)]
                for reader in releases:
                    cell = at.get((writer, kind, reader))
                    row.append(c.outcome(cell["status"]) if cell else c.value("–"))
                rows.append(row)
        title = c.label("Rows: the release that wrote; columns: the release that read", nodes.title)
        counts = Counter(x["status"] for x in cells)
        compared = [x["max_difference"] for x in cells if x.get("max_difference") is not None]
        repaired = [x["max_difference"] for x in cells if x["status"] == "repaired"]
        legend = {
            "ok": "read back as written, with tfpersist's ordinary calls",
            "repaired": "read back only through restore_keras_weights",
            "failed": "not read back; the error is listed below",
        }
        found: list[nodes.Node] = [
            _table(heads, rows, ["compat-matrix"], title),
            _legend(c, legend),
            c.label(
                "{cells} cells: {ok} ok, {repaired} repaired by tfpersist, {failed} failed. "
                "{identical} of the {compared} cells that compare outputs match the writer's "
                "exactly; repaired cells differ by at most {difference}.",
                cells=len(cells),
                ok=counts["ok"],
                repaired=counts["repaired"],
                failed=counts["failed"],
                identical=sum(d == 0 for d in compared),
                compared=len(compared),
                difference=f"{max(repaired, default=0):.3g}",
            ),
            c.label(
                "Run on {date} with TensorFlow {releases}; outputs compared with rtol 1e-5, "
                "atol 1e-6; checkpoint values must be equal.",
                date=data["date"],
                releases=", ".join(releases),
            ),
        ]
        failed = [x for x in cells if x["status"] == "failed"]
        if failed:
            items = [
                nodes.list_item(
                    "", c.value(f"{x['writer']} → {x['reader']}, {x['kind']}: {x['error']}")
                )
                for x in failed
            ]
            found.append(nodes.bullet_list("", *items))
        return found


class FillFields(SphinxTransform):
    """Put the figures into their sentences, after the sentences are translated."""

    default_priority = 30  # after sphinx.transforms.i18n.Locale (20)

    def apply(self, **kwargs: object) -> None:
        for node in self.document.findall(nodes.Element):
            fields = node.get("fields")
            if not fields:
                continue
            for text in list(node.findall(nodes.Text)):
                try:
                    filled = str(text).format_map(fields)
                except (KeyError, IndexError, ValueError) as e:
                    logger.warning(
                        "the message %r, translated as %r, has a bad placeholder (%s): "
                        "keep exactly %s in the translation",
                        node.rawsource,
                        str(text),
                        e,
                        ", ".join("{" + k + "}" for k in fields),
                        location=node,
                    )
                    break
                text.parent.replace(text, nodes.Text(filled))
            del node["fields"]


def setup(app):
    app.add_directive("benchmark", Benchmark)
    app.add_directive("compat-matrix", CompatMatrix)
    app.add_transform(FillFields)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
