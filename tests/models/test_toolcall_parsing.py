from __future__ import annotations

from tinycrew.models import parse_tool_calls
from tinycrew.models.toolcall_parsing import parse_python_calls


def test_qwen_tags() -> None:
    text = '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
    [call] = parse_tool_calls(text)
    assert (call.name, call.arguments) == ("add", {"a": 1, "b": 2})


def test_several_tags_and_unclosed_last_tag() -> None:
    text = (
        '<tool_call>{"name": "a", "arguments": {}}</tool_call>\n'
        '<tool_call>{"name": "b", "arguments": {"x": 1}}'
    )
    assert [call.name for call in parse_tool_calls(text)] == ["a", "b"]


def test_fenced_json_block_as_the_packaged_qwen_writes_it() -> None:
    text = 'Sure!\n```json\n{\n  "name": "get_weather",\n  "arguments": {"city": "Paris"}\n}\n```'
    [call] = parse_tool_calls(text)
    assert call.arguments == {"city": "Paris"}


def test_bare_object_list_and_string_arguments() -> None:
    assert parse_tool_calls('{"name": "f", "arguments": "{\\"q\\": 3}"}')[0].arguments == {"q": 3}
    calls = parse_tool_calls('[{"name": "f", "arguments": {}}, {"name": "g", "parameters": {"y": 2}}]')
    assert [(c.name, c.arguments) for c in calls] == [("f", {}), ("g", {"y": 2})]


def test_openai_style_function_wrapper() -> None:
    [call] = parse_tool_calls('{"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}')
    assert call.name == "f"


def test_plain_text_and_unrelated_json_are_not_calls() -> None:
    assert parse_tool_calls("The answer is 42.") == []
    assert parse_tool_calls('{"result": 3}') == []
    assert parse_tool_calls('{"name": "Bob", "age": 3}', tool_names={"add"}) == []


def test_python_style_calls_to_known_tools_are_read_even_inside_a_json_string() -> None:
    # what the 0.5B wrote as a caller on a server that took no constraint
    text = '```json\n{"name": "calculate(expression=\\"17 * 23\\"), required": ["expression"]}\n```'
    [call] = parse_python_calls(text, {"calculate"})
    assert (call.name, call.arguments) == ("calculate", {"expression": "17 * 23"})
    [call] = parse_python_calls('I will call get_weather(city="Paris (FR)", days=2).', {"get_weather"})
    assert call.arguments == {"city": "Paris (FR)", "days": 2}


def test_python_style_reading_refuses_unknown_tools_positional_and_computed_arguments() -> None:
    assert parse_python_calls("other(a=1)", {"calculate"}) == []
    assert parse_python_calls("calculate(1, 2)", {"calculate"}) == []
    assert parse_python_calls("calculate(expression=x + 1)", {"calculate"}) == []
    assert parse_python_calls("calculate(expression=", {"calculate"}) == []
