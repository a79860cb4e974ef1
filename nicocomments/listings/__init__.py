"""The collections `nico crawl` lists: references (`refs`), listing answers (`parse`, pure) and
fetching them (`client`: nvapi listings, Snapshot Search)."""

from nicocomments.listings.client import (
    SNAPSHOT_CAP,
    SnapshotSearch,
    iter_nvapi_listing,
)
from nicocomments.listings.parse import ListedVideo, ListingPage, SnapshotRefused
from nicocomments.listings.refs import KINDS, CollectionRef, parse_ref

__all__ = [
    "KINDS",
    "SNAPSHOT_CAP",
    "CollectionRef",
    "ListedVideo",
    "ListingPage",
    "SnapshotRefused",
    "SnapshotSearch",
    "iter_nvapi_listing",
    "parse_ref",
]
