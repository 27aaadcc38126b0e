"""Division codes: level, parent, township and subtree follow from the code alone."""

import pytest

from tulou.areas.codes import AreaLevel, InvalidAreaCode, is_within, level_of, parent_code, township_code


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [
        ("350000000000", AreaLevel.PROVINCE, None),
        ("350800000000", AreaLevel.PREFECTURE, "350000000000"),
        ("350899000000", AreaLevel.COUNTY, "350800000000"),
        ("350899100000", AreaLevel.TOWNSHIP, "350899000000"),
        ("350899100201", AreaLevel.VILLAGE, "350899100000"),
        ("350890000000", AreaLevel.COUNTY, "350800000000"),
    ],
)
def test_level_and_parent_follow_from_the_code(code: str, level: AreaLevel, parent: str | None) -> None:
    assert level_of(code) is level
    assert parent_code(code) == parent


@pytest.mark.parametrize("bad", ["", "35089910020", "3508991002011", "35089910020a", "000000000000"])
def test_malformed_codes_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidAreaCode):
        level_of(bad)


def test_township_of_a_village_and_of_itself() -> None:
    assert township_code("350899100201") == "350899100000"
    assert township_code("350899100000") == "350899100000"
    assert township_code("350899000000") is None


def test_subtree_uses_significant_digits_not_trailing_zeros() -> None:
    assert is_within("350890100201", "350890000000")
    assert not is_within("350899100201", "350890000000")
    assert is_within("350899100201", "350899100000")
    assert not is_within("350899101201", "350899100000")
    assert is_within("350899100000", "350899100000")
