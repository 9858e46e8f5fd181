import pytest

from isengard.characters import naming
from isengard.errors import InputError


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Give the character a name"),
        ("   ", "Give the character a name"),
        ("x" * 61, "keep it to 60"),
        ("🙂/../🙂", "can't contain /"),
        ("a\\b", "can't contain /"),
        ("bad\u200bname", "invisible control characters"),
    ],
)
def test_bad_names(raw, message):
    with pytest.raises(InputError, match=message):
        naming.clean_name(raw)


def test_emoji_and_accents_are_fine_and_keys_ignore_case_and_accents():
    assert naming.clean_name("  Zoë   🌸 ") == "Zoë 🌸"
    assert naming.name_key("ZOË 🌸") == naming.name_key("zoe 🌸")


def test_trigger_suggestion_is_distinctive_and_unique():
    first = naming.suggest_trigger("Alice Smith", set())
    assert first == "alcszx"
    assert naming.suggest_trigger("Alice Smith", {first}) == "alcsxq"
    taken = {f"alcs{s}" for s in naming.RARE_SUFFIXES}
    assert naming.suggest_trigger("Alice Smith", taken) == "alcszx2"
    assert naming.clean_trigger(naming.suggest_trigger("🙂🙂", set()))  # no letters: still valid
    assert naming.suggest_trigger("Bo", set()).startswith("bo")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Choose a trigger word"),
        ("two words", "without spaces"),
        ("x!", "3–32 characters"),
        ("9lives", "starting with a letter"),
        ("woman", "everyday word"),
    ],
)
def test_bad_triggers(raw, message):
    with pytest.raises(InputError, match=message):
        naming.clean_trigger(raw)
