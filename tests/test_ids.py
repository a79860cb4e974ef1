import pytest

from nicocomments.errors import BadInput
from nicocomments.ids import parse_video_id, video_id_from_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sm9", "sm9"),
        ("  SM9 ", "sm9"),
        ("so23335421", "so23335421"),
        ("nm14999484", "nm14999484"),
        ("1397552685", "1397552685"),
        ("https://www.nicovideo.jp/watch/sm9", "sm9"),
        ("https://www.nicovideo.jp/watch/sm9?ref=search&playlist=x", "sm9"),
        ("http://sp.nicovideo.jp/watch/so23335421/", "so23335421"),
        ("www.nicovideo.jp/watch/1397552685", "1397552685"),
        ("https://nico.ms/sm9", "sm9"),
        ("nico.ms/sm9", "sm9"),
        ("https://www.nicovideo.jp/shorts/ss12345", "ss12345"),
    ],
)
def test_accepted_forms(text, expected):
    assert parse_video_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sm",
        "sm0",
        "xx9",
        "sm9a",
        "-1",
        "https://example.com/watch/sm9",
        "https://www.nicovideo.jp/user/123",
        "sm9; drop table",
        "s m9",
        "sm1９",  # full-width and other non-ASCII digits
        "1٣",
        "ftp://www.nicovideo.jp/watch/sm9",
        "file://www.nicovideo.jp/watch/sm9",
        "javascript://nico.ms/sm9",
        "https://[www.nicovideo.jp/watch/sm9",
    ],
)
def test_rejected_forms(text):
    with pytest.raises(BadInput):
        parse_video_id(text)


@pytest.mark.parametrize("text", ["sm" + "9" * 100_000, "https://nico.ms/" + "x" * 100_000])
def test_a_very_long_id_is_not_echoed_whole(text):
    with pytest.raises(BadInput) as caught:
        parse_video_id(text)
    message = str(caught.value)
    assert len(message) < 200 and "100,0" in message  # its length is said instead


@pytest.mark.parametrize(
    ("name", "video"),
    [
        ("sm9.jsonl", "sm9"),
        ("Title [so123].comments.json", "so123"),
        ("nl456.xml", "nl456"),  # every prefix parse_video_id takes
        ("Short [ss12345].comments.json", "ss12345"),
        ("nm1_then_sm2.xml", "sm2"),
        ("1397552685.xml", None),  # a bare number in a name is too often something else
    ],
)
def test_video_ids_in_file_names(name, video):
    assert video_id_from_name(name) == video
