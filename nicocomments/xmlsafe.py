"""How XML from outside is read, and how XML we write by hand is escaped (stdlib only, so
every side may use it).

lxml is given `PARSER_OPTIONS` (no entities resolved, no DTD loaded, nothing fetched, no huge
trees), and `declares_dtd` turns a document away before any parser sees it: a DTD is the door
to XXE and entity bombs, and no Niconico payload has one.

`xml_text` and `xml_attr` are for the two writers that build ``<packet>``s as strings (the XML
export and the emulator's message server), because they must control the exact bytes.
"""

from __future__ import annotations

import re

PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}

# Characters XML 1.0 cannot carry at all, not even escaped (C0 controls but tab, newline and
# carriage return; lone surrogates, which UTF-8 cannot encode either; U+FFFE, U+FFFF): dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
# Whitespace is escaped in attributes too: a parser would normalise it to plain spaces.
_ATTRIBUTE_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)


def declares_dtd(data: bytes, root: bytes = b"<packet") -> bool:
    """Whether what stands before the ``root`` element (all of ``data`` without one) declares
    a DTD or an entity."""
    root_at = data.find(root)
    prolog = data if root_at < 0 else data[:root_at]
    return b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog


def xml_text(value: str) -> str:
    """``value`` as element content that reads back the same (less what XML cannot carry)."""
    return _NOT_XML.sub("", value).translate(_TEXT_ESCAPES)


def xml_attr(value: str) -> str:
    """``value`` as a double-quoted attribute value that reads back the same (less what XML
    cannot carry)."""
    return _NOT_XML.sub("", value).translate(_ATTRIBUTE_ESCAPES)
