"""The database-free METADATA rules (pushimapd.storage.metadata): entry names and selection."""

from __future__ import annotations

import pytest

from pushimapd.storage.metadata import InvalidEntryName, Limits, entry_name, select, settable_name


@pytest.mark.parametrize("raw,name", [
    (b"/private/comment", "/private/comment"),
    (b"/SHARED/Vendor/Example", "/shared/vendor/example"),
    (b"/private", "/private"),
    (b"/shared/a b/c-d_e.f", "/shared/a b/c-d_e.f"),
])
def test_valid_names_are_lower_cased(raw, name):
    assert entry_name(raw) == name


@pytest.mark.parametrize("raw", [
    b"", b"private/comment", b"/public/x", b"/privatex/y", b"/private/*", b"/private/a%", b"/private//a",
    b"/private/a/", b"/", b"/private/\x07", b"/private/\xc3\xa4", b"/private/" + b"n" * 248,
])
def test_invalid_names(raw):
    with pytest.raises(InvalidEntryName):
        entry_name(raw)


def test_roots_cannot_be_set_and_the_length_limit_is_configurable():
    with pytest.raises(InvalidEntryName):
        settable_name(b"/shared")
    assert settable_name(b"/shared/x") == "/shared/x"
    with pytest.raises(InvalidEntryName):
        entry_name(b"/private/abc", Limits(max_name_length=11))


STORED = {"/private/a": b"1", "/private/a/b": b"22", "/private/a/b/c": b"333", "/private/ab": b"x",
          "/private/a/z": b"4444"}


def test_depth_and_order():
    assert select(STORED, ["/private/a"], "0") == ([("/private/a", b"1")], 0)
    assert select(STORED, ["/private/a"], "1")[0] == [
        ("/private/a", b"1"), ("/private/a/b", b"22"), ("/private/a/z", b"4444")]
    assert [n for n, _ in select(STORED, ["/private/a/z", "/private/a"], "infinity")[0]] == [
        "/private/a/z", "/private/a", "/private/a/b", "/private/a/b/c"]
    assert select(STORED, ["/private/missing"], "infinity") == ([], 0)


def test_maxsize_reports_the_longest_value_held_back():
    found, longest = select(STORED, ["/private/a"], "infinity", maxsize=2)
    assert found == [("/private/a", b"1"), ("/private/a/b", b"22")]
    assert longest == 4
    assert select(STORED, ["/private/a"], "infinity", maxsize=10)[1] == 0
