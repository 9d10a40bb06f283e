"""The contract every connector passes: one set of tests, run against each kind's real source.

A kind's test module subclasses :class:`ConnectorContract` and provides two fixtures:

- ``source``: a :class:`Source` over a real server or folder the test started, holding the
  items ``a.txt`` ("alpha ...") and ``b.md`` ("beta ..."), able to change and delete them;
- ``unreachable``: a connector whose source cannot be reached.
"""

from __future__ import annotations

from typing import Protocol

import pytest

from tether.connect.base import Connector, Item, ItemRef, Listing
from tether.errors import SourceUnreachable
from tether.types import Acl


class Source(Protocol):
    def connector(self) -> Connector: ...

    def change(self, name: str, text: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def item_id(self, name: str) -> str:
        """The external id the connector gives the item ``name``."""
        ...


def _all(connector: Connector, cursor: str | None = None) -> Listing:
    return connector.list(cursor)


def _by_id(listing: Listing) -> dict[str, ItemRef]:
    return {r.external_id: r for r in listing.items}


class ConnectorContract:
    def test_lists_every_item_with_a_version_and_valid_permissions(self, source: Source) -> None:
        listing = _all(source.connector())
        refs = _by_id(listing)
        assert len(refs) == len(listing.items)  # ids are unique
        assert {source.item_id("a.txt"), source.item_id("b.md")} <= set(refs)
        for ref in listing.items:
            assert isinstance(ref.version, str) and ref.version
            Acl.parse(list(ref.acl))  # every entry is public / group:NAME / user:NAME

    def test_fetch_returns_the_bytes_and_a_loadable_name(self, source: Source) -> None:
        connector = source.connector()
        refs = _by_id(_all(connector))
        item = connector.fetch(refs[source.item_id("a.txt")])
        assert isinstance(item, Item)
        assert b"alpha" in item.data
        assert "." in item.filename
        assert item.ref.external_id == source.item_id("a.txt")

    def test_versions_are_stable_while_nothing_changes(self, source: Source) -> None:
        connector = source.connector()
        first = _all(connector)
        again = _all(connector, first.cursor)
        if again.complete:
            assert {r.external_id: r.version for r in again.items} == {r.external_id: r.version for r in first.items}
        else:  # an incremental listing has nothing new to say
            assert not again.items and not again.deleted

    def test_a_change_changes_the_version_and_a_deletion_is_reported(self, source: Source) -> None:
        connector = source.connector()
        first = _all(connector)
        before = _by_id(first)
        source.change("a.txt", "alpha changed: the new figure is 42")
        source.delete("b.md")
        after = _all(source.connector(), first.cursor)
        refs = _by_id(after)
        a, b = source.item_id("a.txt"), source.item_id("b.md")
        assert refs[a].version != before[a].version
        assert b"42" in source.connector().fetch(refs[a]).data
        if after.complete:
            assert b not in refs
        else:
            assert b in after.deleted

    def test_an_unreachable_source_is_a_typed_error(self, unreachable: Connector) -> None:
        with pytest.raises(SourceUnreachable):
            unreachable.list(None)
