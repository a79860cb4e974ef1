"""The collections `nico crawl` lists: references (`refs`), listing answers (`parse`, pure) and
fetching them (`client`: nvapi listings, Snapshot Search); a channel's list pages (`channel`,
parsed by `channel_page`)."""

from nicocomments.listings.channel import iter_channel_listing
from nicocomments.listings.channel_page import parse_channel_page
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
    "iter_channel_listing",
    "iter_nvapi_listing",
    "parse_channel_page",
    "parse_ref",
]
