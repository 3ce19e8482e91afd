"""`digest keywords`: list, add and remove the section keywords learned from the desk."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from .options import State, json_option, lazy

if TYPE_CHECKING:
    from ..jobs import keywords as jobs
else:  # loaded when a command first uses it (see lazy)
    jobs = lazy("digest.jobs.keywords")

BY = "cli"  # who the command records as having added a word


@click.group()
def keywords() -> None:
    """Manage the section keywords learned from the editor's desk.

    When an editor moves a headline to another section, the day page offers its telling
    words as that section's keywords. They are kept in the database, and the next compose
    uses them beside the keywords of the config's [[sections]].

    \b
    Example:
      digest keywords add "Missile defense" interceptor "glide vehicle"
      digest keywords list
    """


@keywords.command("list")
@json_option()
@click.pass_obj
def keywords_list(state: State, as_json: bool) -> None:
    """List the learned keywords by section, with who added each and when.

    \b
    Example:
      digest keywords list --json
    """
    learned = jobs.list_keywords(state.store)
    if as_json:
        rows = [
            {
                "section": k.section,
                "word": k.word,
                "added_by": k.added_by,
                "added_at": k.added_at.isoformat(),
            }
            for k in learned
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not learned:
        click.echo("keywords: none learned (digest keywords add SECTION WORD...)")
    for k in learned:
        click.echo(f"{k.section}\t{k.word}\tadded by {k.added_by} {k.added_at:%Y-%m-%d %H:%M} UTC")


@keywords.command("add")
@click.argument("section")
@click.argument("words", nargs=-1, required=True)
@click.pass_obj
def keywords_add(state: State, section: str, words: tuple[str, ...]) -> None:
    """Add WORDS (each a word or a phrase of up to 4 words) to SECTION's keywords.

    Words are stored folded (lower case, no accents); letters, digits, spaces and hyphens
    only. Words already learned are skipped. Quote a section name or phrase with spaces.

    \b
    Example:
      digest keywords add "Missile defense" interceptor "glide vehicle"
    """
    done = jobs.add_keywords(state.store, state.config, section, words, by=BY)
    extra = f" ({done.known} already there)" if done.known else ""
    click.echo(f"keywords: added {done.added} to {done.section}{extra}")


@keywords.command("remove")
@click.argument("section")
@click.argument("word")
@click.pass_obj
def keywords_remove(state: State, section: str, word: str) -> None:
    """Remove the learned keyword WORD from SECTION (the config's own keywords stay).

    \b
    Example:
      digest keywords remove "Missile defense" interceptor
    """
    name = jobs.remove_keyword(state.store, state.config, section, word)
    click.echo(f"keywords: removed {word!r} from {name}")
