"""XML rendering: Shoprenter answers in XML unless asked for JSON, and ``xml`` hooks get XML."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree


def to_xml(value: Any, tag: str = "response") -> bytes:
    """Render nested dicts and lists as elements; a list repeats its parent's tag."""
    root = ElementTree.Element(tag)
    _fill(root, value)
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            for one in item if isinstance(item, list) else [item]:
                _fill(ElementTree.SubElement(element, key), one)
    elif value is not None:
        element.text = str(value)
