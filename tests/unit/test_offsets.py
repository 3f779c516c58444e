"""Checkpoints from held offsets, and the core's replay filter after a crash."""

from __future__ import annotations

import vnbridge_core
from hypothesis import given, settings
from hypothesis import strategies as st

from logbridge.kafka.offsets import MAX_METADATA, Checkpoint, Token, checkpoint
from logbridge.kafka.transactions import MAX_DEAD_LETTER_VALUE, dead_letter_record
from logbridge.profiles import build
from logbridge.transforming import core_transformer

CRI = "shop", "web-1", "app", "d" * 64


def _core() -> vnbridge_core.Transformer:
    return core_transformer(profile=build("fluent-bit", {"Output": "plain"}), lookup=None, shape="cri")


def _line(tag: str, i: int) -> bytes:
    return f"2024-05-01T12:00:00.{i:09d}Z stdout {tag} line {i}".encode()


def test_commit_never_passes_a_held_offset() -> None:
    assert checkpoint(-1, []) is None
    assert checkpoint(15, [11]) == Checkpoint(11, 15, (11,))
    assert checkpoint(15, []) == Checkpoint(15, 15)


def test_checkpoint_metadata_round_trip() -> None:
    cp = Checkpoint(1000, 1500, (1000, 1042, 1499))
    assert Checkpoint.parse(1000, cp.metadata()) == cp
    assert Checkpoint.parse(7, "") == Checkpoint(7, 7)
    assert Checkpoint.parse(7, "someone-else's metadata") == Checkpoint(7, 7)
    assert Checkpoint.parse(7, "vnb1:zz:!!") == Checkpoint(7, 7)


def test_huge_held_sets_stay_within_the_broker_metadata_limit() -> None:
    held = list(range(0, 200_000, 2))
    cp = checkpoint(200_000, held)
    assert cp is not None and len(cp.metadata()) <= MAX_METADATA
    # whatever it kept is still true: nothing below the mark and not held is outstanding
    for o in range(cp.offset, cp.mark):
        assert o in cp.held or o % 2 == 1


def test_the_core_skips_only_what_was_delivered() -> None:
    core = _core()
    core.set_replay("t-0", 110, [100, 105])
    batch = core.push_values("t-0", [_line("F", i) for i in range(100, 112)], 100, file=CRI)
    assert [toks for toks in batch.all_tokens()] == [[("t-0", o)] for o in (100, 105, 110, 111)]
    assert batch.replayed == 8
    again = core.push_values("t-0", [_line("F", 101)], 101, file=CRI)  # past the mark: forgotten
    assert len(again) == 1 and again.replayed == 0
    other = _core()
    other.set_replay("t-0", 110, [])
    assert len(other.push_values("t-1", [_line("F", 101)], 101, file=CRI)) == 1  # other partition


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from("PF"), min_size=1, max_size=120), st.integers(0, 119))
def test_a_crash_after_any_commit_delivers_every_record_once(tags: list[str], crash_at: int) -> None:
    """Run 1 consumes ``crash_at`` records, delivers, commits (held offsets in the
    checkpoint) and dies; run 2 replays from the commit. Every record ends up in
    exactly one delivered document."""
    lines = [_line(t, i) for i, t in enumerate(tags)]
    n = min(crash_at, len(lines))
    first = _core()
    delivered = [o for toks in first.push_values("t-0", lines[:n], 0, file=CRI).all_tokens() for _, o in toks]
    cp = checkpoint(n, first.held("t-0")) if n else None
    second = _core()
    start = 0
    if cp is not None:
        second.set_replay("t-0", cp.mark, list(cp.held))
        start = cp.offset
    out = [second.push_values("t-0", lines[start:], start, file=CRI), second.flush_all()]
    delivered += [o for b in out for toks in b.all_tokens() for _, o in toks]
    assert sorted(delivered) == list(range(len(lines)))


def test_dead_letters_keep_the_original_and_say_when_it_was_cut() -> None:
    tok = Token("logs", 3, 42)
    small = dead_letter_record(key=b"k", value=b"v", headers=[("h", b"1")], reason="r", detail="d", token=tok)
    assert small[:2] == (b"k", b"v") and small[2][0] == ("h", b"1")
    assert ("vnbridge.source.offset", b"42") in small[2] and "vnbridge.truncated" not in dict(small[2])
    big = b"x" * (MAX_DEAD_LETTER_VALUE + 10)
    cut = dead_letter_record(key=None, value=big, headers=[], reason="r", detail="d", token=tok)
    assert len(cut[1]) == MAX_DEAD_LETTER_VALUE
    assert dict(cut[2])["vnbridge.truncated"] == str(len(big)).encode()
