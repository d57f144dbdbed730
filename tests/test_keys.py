"""Content keys that survive new knobs (datasets.keys): the render cache and the generative store share the rule."""

from hypothesis import given
from hypothesis import strategies as st

from datasets.clocks.variation import LATER_KNOBS, Variation
from datasets.keys import without_added_knobs

NAMES = st.sampled_from(["a", "b", "c", "d"])
VALUES = st.one_of(st.integers(-3, 3), st.booleans(), st.floats(0, 1, allow_nan=False))


@given(st.dictionaries(NAMES, VALUES), st.dictionaries(NAMES, VALUES))
def test_only_knobs_at_their_earlier_value_are_left_out(values, added):
    kept = without_added_knobs(values, added)
    for name, value in values.items():
        assert (name in kept) == (not (name in added and value == added[name]))
        if name in kept:
            assert kept[name] == value


def test_a_later_knob_keeps_old_keys_at_its_default_and_changes_them_otherwise():
    default = Variation()
    (name, value), = LATER_KNOBS.items()
    assert getattr(default, name) == value
    assert default.key() == "36156696d8b1"  # the key the default set was cached under before the knob existed
    moved = Variation(**{name: 0.9})  # a probability other than its default
    assert moved.key() != default.key()
