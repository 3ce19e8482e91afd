"""The directory's pages (store/directory.py), which the API and the subscriber desk share."""

from __future__ import annotations

from digest.config import Config
from digest.store import Store
from digest.subscribers import new_subscriber


def test_a_section_filter_pages_through_matches_far_apart(store: Store, config: Config) -> None:
    """Matches spread over more rows than one read takes: every page links to the next until
    the last match (a page that filled up at the end of a read used to end the walk)."""
    rows = []
    for i in range(1, 1201):
        sections = "Space" if i in (1, 2, 701, 1101, 1200) else "Nuclear"
        rows.append(new_subscriber(f"r{i}@example.com", None, sections, config.section_names))
    store.upsert_subscribers(rows)
    seen: list[int] = []
    after = 0
    for _ in range(10):
        page = store.subscriber_page(section="Space", after=after, limit=2)
        seen += [s.id for s in page.subscribers]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == [1, 2, 701, 1101, 1200]


def test_a_page_that_ends_exactly_at_the_last_match_has_no_next(
    store: Store, config: Config
) -> None:
    store.upsert_subscribers(
        [new_subscriber(f"r{i}@example.com", None, None, config.section_names) for i in range(4)]
    )
    first = store.subscriber_page(limit=2)
    assert first.next_after is not None
    second = store.subscriber_page(after=first.next_after, limit=2)
    assert len(second.subscribers) == 2 and second.next_after is None


def test_a_search_by_name_folds_the_case_of_every_letter(store: Store, config: Config) -> None:
    """On SQLite too, whose own lower() and LIKE fold A-Z only."""
    store.upsert_subscribers(
        [
            new_subscriber("ez@example.com", "Émile Zola", None, config.section_names),
            new_subscriber("ds@example.com", "ÐÓRA STRAßE", None, config.section_names),
            new_subscriber("other@example.com", "Emile Other", None, config.section_names),
        ]
    )

    def found(text: str) -> list[str]:
        return [s.email for s in store.subscriber_page(search=text).subscribers]

    assert found("émile") == ["ez@example.com"]
    assert found("ÉMILE ZOLA") == ["ez@example.com"]
    assert found("ðóra") == ["ds@example.com"]
    assert found("EZ@EXAMPLE") == ["ez@example.com"]
    assert found("50%") == []
