"""The extractor's fast paths find exactly what the documented rules say. ``extract`` scans for
emails, handles and hashtags only inside whitespace-delimited tokens holding "@" or "#", and
resolves each distinct capitalised run once; the reference below applies the rules of
``banks.entities``' docstring literally, to the whole text, in the documented order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from banks import entities
from banks.entities import Mention, extract


def reference_extract(text: str) -> list[Mention]:
    found: list[Mention] = []
    rest = text
    for email in entities._EMAIL.findall(rest):
        found.append(Mention(email.lower(), email, "email"))
    rest = entities._EMAIL.sub(" ", rest)
    for handle in entities._HANDLE.findall(rest):
        found.append(Mention(entities.normalise(handle), handle, "handle"))
    rest = entities._HANDLE.sub(" ", rest)
    for tag in entities._HASHTAG.findall(rest):
        found.append(Mention(entities.normalise(tag), tag, "hashtag"))
    rest = entities._HASHTAG.sub(" ", rest)
    for match in entities._NAME_RUN.finditer(rest):
        start = match.start()
        if start and entities._INSIDE_WORD.match(rest[start - 1]):
            continue
        words = match.group().split()
        while words and entities._POSSESSIVE.sub("", words[0]).casefold() in entities.STOPWORDS:
            words.pop(0)
        if not words:
            continue
        words[-1] = entities._POSSESSIVE.sub("", words[-1])
        display = " ".join(words).strip(entities._EDGE_PUNCT)
        key = entities.normalise(display)
        if key and key not in entities.STOPWORDS:
            found.append(Mention(key, display[: entities.MAX_NAME_LENGTH], "name"))
    seen: set[str] = set()
    unique = [m for m in found if m.key and not (m.key in seen or seen.add(m.key))]
    return unique[: entities.MAX_ENTITIES_PER_MEMORY]


PIECES = st.sampled_from([
    *"aAzZ@#._-+%' \t\n\r0193:;,()é\u2019\u00a0",
    "Alice", "Bob Jones", "The ", "Yesterday ", "bob@example.com", "x.y@z.co", "@carol",
    "@a_b", "#tag", "#q1-review.", "New York", "Monday", "'s", "iPhone", "l'Alice", "NASA",
    "mail@", "@@", "##", "a@b@c.de", "Ünïcode", "Zürich",
])


@settings(max_examples=1500, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_extract_finds_exactly_what_the_whole_text_rules_find(text):
    assert extract(text) == reference_extract(text)


def test_extract_keeps_the_documented_order_in_a_dense_text():
    text = ("On Monday Farid Okafor met Marco in Lima; @zoe5 tagged it #q2-review and mailed "
            "zoe@example.com. Alice's team in New York agreed.") * 3
    assert extract(text) == reference_extract(text)
    assert [m.type for m in extract(text)][:3] == ["email", "handle", "hashtag"]
