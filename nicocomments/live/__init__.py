"""Niconico Live comments over the NDGR message server (live.md)."""
