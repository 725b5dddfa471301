"""EVTX files through ``python-evtx``: each record's XML goes to the XML parser.

python-evtx re-parses a record's binary-XML template for every record, which
costs tens of milliseconds per record. :class:`TemplateRenderer` walks each
template once, keeps it as a list of literal strings and substitution slots,
and renders a record by filling the slots with the record's substitution
values, giving the same XML as ``Record.xml()`` (checked in the tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.windows.xml import XmlEventError, XmlLine, parse_xml_record

EVTX_MAGIC = b"ElfFile\x00"
EVTX_HEADER = 4096


class EvtxRecordError(XmlEventError):
    """An EVTX record (or the rest of the file) cannot be decoded."""

    reason = "unreadable evtx record"


def is_evtx(path: str | Path) -> bool:
    """True when the file starts with the EVTX header magic."""
    with open(path, "rb") as fh:
        return fh.read(8) == EVTX_MAGIC


class TemplateRenderer:
    """Render EVTX records to XML with each chunk template compiled once.

    Use one renderer per open file (the cache is keyed by the file's buffer).
    """

    def __init__(self) -> None:
        from Evtx import Nodes, Views

        self._n = Nodes
        self._escape = Views.escape_value
        self._cache: dict[tuple[int, int], list[Any]] = {}

    def _compile(self, template: Any) -> list[Any]:
        """Literal strings and substitution indices (ints) of one template."""
        n = self._n
        parts: list[Any] = []

        def rec(node: Any) -> None:
            if isinstance(node, n.OpenStartElementNode):
                parts.append("<" + node.tag_name())
                for child in node.children():
                    if isinstance(child, n.AttributeNode):
                        parts.append(" " + child.attribute_name().string() + '="')
                        rec(child.attribute_value())
                        parts.append('"')
                parts.append(">")
                for child in node.children():
                    rec(child)
                parts.append("</" + node.tag_name() + ">\n")
            elif isinstance(node, n.ValueNode):
                parts.append(self._escape(node.children()[0].string()))
            elif isinstance(node, n.NormalSubstitutionNode | n.ConditionalSubstitutionNode):
                parts.append(node.index())
            elif isinstance(node, n.CDataSectionNode):
                parts.append("<![CDATA[" + self._escape(node.cdata()) + "]]>")
            elif isinstance(node, n.EntityReferenceNode):
                parts.append(self._escape(node.entity_reference()))
            elif isinstance(node, n.TemplateInstanceNode):
                raise XmlEventError("nested template instance in EVTX template")

        for child in template.children():
            rec(child)
        return parts

    def render(self, root: Any) -> str:
        """XML of one record's root node (``record.root()``)."""
        # Template offsets are only unique within one file's buffer.
        key = (id(root._buf), root._chunk.offset() + root.template_instance().template_offset())
        parts = self._cache.get(key)
        if parts is None:
            parts = self._compile(root.template())
            self._cache[key] = parts
        subs = root.substitutions()
        bxml = self._n.BXmlTypeNode
        out: list[str] = []
        for p in parts:
            if isinstance(p, str):
                out.append(p)
            else:
                sub = subs[p]
                if isinstance(sub, bxml):
                    out.append(self.render(sub.root()))
                else:
                    out.append(self._escape(sub.string()))
        return "".join(out)


def iter_evtx_xml(path: str | Path) -> Iterator[tuple[int, str | None, Exception | None]]:
    """(position, XML text or None, error or None) for every record of an EVTX file.

    Raises:
        XmlEventError: the file is not a readable EVTX file (bad header).
    """
    from Evtx.Evtx import Evtx

    renderer = TemplateRenderer()
    try:
        log = Evtx(str(path))
        log.__enter__()
    except Exception as exc:  # python-evtx raises assorted errors on bad headers
        raise XmlEventError(f"{path}: not a readable EVTX file: {exc}") from None
    n = 0
    try:
        records = log.records()
        while True:
            try:
                rec = next(records)
            except StopIteration:
                break
            except Exception as exc:  # a corrupt chunk ends the readable part
                yield n + 1, None, exc
                break
            n += 1
            try:
                try:
                    text = renderer.render(rec.root())
                except XmlEventError:
                    text = rec.xml()
            except Exception as exc:  # corrupt binary XML inside a chunk
                yield n, None, exc
                continue
            yield n, text, None
    finally:
        log.__exit__(None, None, None)
    if n == 0 and Path(path).stat().st_size > EVTX_HEADER:
        yield 0, None, EvtxRecordError("no readable records (truncated or corrupt EVTX file)")


def iter_evtx_events(path: str | Path, *, source: str | None = None) -> Iterator[XmlLine]:
    """Parse every record of an EVTX file; a record that fails yields its error.

    Args:
        path: the ``.evtx`` file.
        source: provenance (defaults to the file name); ``record`` is the EventRecordID.

    Raises:
        XmlEventError: the file is not a readable EVTX file (bad header).
    """
    name = source or Path(path).name
    for n, text, err in iter_evtx_xml(path):
        if text is None:
            yield XmlLine(None, EvtxRecordError(f"{name}#{n}: unreadable EVTX record: {err}"), n)
            continue
        try:
            yield XmlLine(parse_xml_record(text, source=name), None, n)
        except XmlEventError as exc:
            yield XmlLine(None, exc, n)
