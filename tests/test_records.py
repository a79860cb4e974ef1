import pytest

from nicocomments.records import video_clock


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0:00"),
        (83.4, "1:23"),
        (59.99, "0:59"),
        (3600, "60:00"),
        (-1.5, "-0:01"),
        (-65, "-1:05"),
        (-0.5, "-0:00"),
    ],
)
def test_video_clock(seconds, expected):
    assert video_clock(seconds) == expected
