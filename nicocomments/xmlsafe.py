"""How XML from outside is read: answers of the message server and comment files from the
internet alike (stdlib only, so every side may use it).

lxml is given `PARSER_OPTIONS` (no entities resolved, no DTD loaded, nothing fetched, no huge
trees), and `declares_dtd` turns a document away before any parser sees it: a DTD is the door
to XXE and entity bombs, and no Niconico payload has one.
"""

from __future__ import annotations

PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


def declares_dtd(data: bytes, root: bytes = b"<packet") -> bool:
    """Whether what stands before the ``root`` element (all of ``data`` without one) declares
    a DTD or an entity."""
    root_at = data.find(root)
    prolog = data if root_at < 0 else data[:root_at]
    return b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog
