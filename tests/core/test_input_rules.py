"""The rules a person's typed numbers must follow (modal, CLI and App Home share them)."""

import pytest

from sync_core.input_rules import parse_order_numbers


def test_one_number_a_line_with_blanks_and_spaces_ignored():
    parsed = parse_order_numbers("  1001 \n\n\t1002\n   \n1003")
    assert parsed.ok
    assert parsed.numbers == ["1001", "1002", "1003"]


def test_leading_hash_is_dropped():
    assert parse_order_numbers("#1001\n# 1002").numbers == ["1001", "1002"]


@pytest.mark.parametrize("text, expected", [
    ("١٠٠٢", "1002"),  # Arabic-Indic
    ("۱۰۰۳", "1003"),  # Persian
    ("１００４", "1004"),  # full-width
    ("#٤١٨١٤٩٢٧٠", "418149270"),
])
def test_other_digit_scripts_read_as_digits(text, expected):
    assert parse_order_numbers(text).numbers == [expected]


def test_leading_zeros_dropped_and_repeats_synced_once():
    parsed = parse_order_numbers("001001\n1001\n٠١٠٠١\n1002")
    assert parsed.numbers == ["1001", "1002"]


def test_empty_input_is_refused():
    for text in ("", "   \n \n", None):
        parsed = parse_order_numbers(text)
        assert not parsed.ok and parsed.numbers == []
        assert "at least one" in parsed.errors[0]


def test_comma_line_is_named_with_its_number_and_text():
    parsed = parse_order_numbers("1000\n\n1001, 1002")
    assert parsed.errors == ['Line 3 "1001, 1002": one number per line, no commas']
    assert parsed.numbers == []


@pytest.mark.parametrize("line", ["1001;1002", "1001،1002"])
def test_semicolons_and_arabic_commas_are_separators_too(line):
    assert "no commas" in parse_order_numbers(line).errors[0]


def test_space_inside_a_number_is_an_error():
    parsed = parse_order_numbers("1001\n10 02")
    assert parsed.errors == ['Line 2 "10 02": one number per line, no spaces inside a number']


@pytest.mark.parametrize("line", ["abc", "1001a", "-5", "10.5", "SAR 100"])
def test_anything_not_a_number_is_an_error(line):
    parsed = parse_order_numbers(f"1001\n{line}")
    assert not parsed.ok
    assert parsed.errors[0].startswith(f'Line 2 "{line}"')


def test_all_errors_come_back_at_once():
    parsed = parse_order_numbers("x\n1,2\n3 4\n5")
    assert [e.split(" ")[1] for e in parsed.errors] == ["1", "2", "3"]


def test_at_most_100_numbers():
    assert parse_order_numbers("\n".join(str(1000 + i) for i in range(100))).ok
    parsed = parse_order_numbers("\n".join(str(1000 + i) for i in range(101)))
    assert not parsed.ok
    assert parsed.errors == ["101 numbers were given; 100 is the most in one sync."]


def test_long_lines_are_shortened_in_messages():
    parsed = parse_order_numbers("x" * 500)
    assert len(parsed.errors[0]) < 100


def test_numbers_in_a_message_in_any_script_each_once():
    from sync_core.input_rules import numbers_in_text

    text = "طلب #1001 و ١٠٠٢ و ۱۰۰۳ و １００４ و १००५; 1001 again, order 0042, and 0"
    assert numbers_in_text(text) == (["1001", "1002", "1003", "1004", "1005", "42"], 0)
    assert numbers_in_text(" ".join(str(n) for n in range(1, 106)), most=100) == ([str(n) for n in range(1, 101)], 5)
    assert numbers_in_text(None) == ([], 0)
