import pytest

from insights.llm_output import NoJsonFound, extract_json


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '```json\n{"a": 1}\n```',
        '```\n{"a": 1}\n```',
        '<think>I should answer {"a": 2} maybe</think>\n{"a": 1}',
        'Here is the report:\n{"a": 1}\n\n[1] https://example.com {see}',
        '{"a": 1}\n{"a": 2}',
    ],
)
def test_first_json_object_is_found_through_the_wrapping(text):
    assert extract_json(text) == {"a": 1}


def test_braces_inside_strings_do_not_confuse_decoding():
    assert extract_json('{"a": "}{"}\ntrailing } text') == {"a": "}{"}


@pytest.mark.parametrize("text", ["", None, "no json here", '{"a": 1', "<think>unfinished {"])
def test_no_object_raises(text):
    with pytest.raises(NoJsonFound):
        extract_json(text)
