"""The offset ledger, checkpoints and the replay filter (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from logbridge.offsets import MAX_METADATA, Checkpoint, Ledger, ReplayFilter, Token
from logbridge.producing import MAX_DEAD_LETTER_VALUE, dead_letter_record


def test_commit_never_passes_an_outstanding_offset() -> None:
    led = Ledger()
    assert led.checkpoint() is None
    for o in range(10, 15):
        led.add(o)
    for o in (10, 12, 13, 14):
        led.done(o)
    cp = led.checkpoint()
    assert cp == Checkpoint(11, 15, (11,))
    led.done(11)
    assert led.checkpoint() == Checkpoint(15, 15)


def test_checkpoint_metadata_round_trip() -> None:
    cp = Checkpoint(1000, 1500, (1000, 1042, 1499))
    assert Checkpoint.parse(1000, cp.metadata()) == cp
    assert Checkpoint.parse(7, "") == Checkpoint(7, 7)
    assert Checkpoint.parse(7, "someone-else's metadata") == Checkpoint(7, 7)
    assert Checkpoint.parse(7, "vnb1:zz:!!") == Checkpoint(7, 7)


def test_huge_held_sets_stay_within_the_broker_metadata_limit() -> None:
    led = Ledger()
    for o in range(0, 200_000, 2):
        led.add(o)
        led.add(o + 1)
        led.done(o + 1)
    cp = led.checkpoint()
    assert cp is not None and len(cp.metadata()) <= MAX_METADATA
    # whatever it kept is still true: nothing below the mark and not held is outstanding
    for o in range(cp.offset, cp.mark):
        assert o in cp.held or o % 2 == 1


def test_replay_skips_only_what_was_delivered() -> None:
    rf = ReplayFilter()
    rf.set("t", 0, Checkpoint(100, 110, (100, 105)))
    t = lambda o: Token("t", 0, o)  # noqa: E731
    assert rf.delivered([t(101)])
    assert not rf.delivered([t(100)])  # held fragment: not delivered
    assert not rf.delivered([t(105), t(111)])  # joins a new record
    assert not rf.delivered([t(110)])
    assert not rf.delivered([Token("t", 1, 101)])  # other partition: no checkpoint
    rf.passed("t", 0, 110)
    assert not rf.delivered([t(101)])


@given(st.lists(st.booleans(), min_size=1, max_size=300), st.randoms(use_true_random=False))
def test_ledger_matches_a_model(done_flags: list[bool], rnd: object) -> None:
    led = Ledger()
    for o in range(len(done_flags)):
        led.add(o)
    order = [o for o, d in enumerate(done_flags) if d]
    rnd.shuffle(order)  # type: ignore[attr-defined]
    for o in order:
        led.done(o)
    pending = [o for o, d in enumerate(done_flags) if not d]
    cp = led.checkpoint()
    assert cp is not None
    assert cp.offset == (pending[0] if pending else len(done_flags))
    rf = ReplayFilter()
    rf.set("t", 0, Checkpoint.parse(cp.offset, cp.metadata()))
    for o in range(len(done_flags)):
        if o >= cp.offset:
            assert rf.delivered([Token("t", 0, o)]) == done_flags[o]


def test_dead_letters_keep_the_original_and_say_when_it_was_cut() -> None:
    tok = Token("logs", 3, 42)
    small = dead_letter_record(key=b"k", value=b"v", headers=[("h", b"1")], reason="r", detail="d", token=tok)
    assert small[:2] == (b"k", b"v") and small[2][0] == ("h", b"1")
    assert ("vnbridge.source.offset", b"42") in small[2] and "vnbridge.truncated" not in dict(small[2])
    big = b"x" * (MAX_DEAD_LETTER_VALUE + 10)
    cut = dead_letter_record(key=None, value=big, headers=[], reason="r", detail="d", token=tok)
    assert len(cut[1]) == MAX_DEAD_LETTER_VALUE
    assert dict(cut[2])["vnbridge.truncated"] == str(len(big)).encode()
