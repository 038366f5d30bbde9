import pytest

from infrastructure.code_format import CodeFormatError, format_python


def test_formats_like_black():
    source = "def f(a,b):\n  return {'a':a,'b':b}\n"
    assert format_python(source) == 'def f(a, b):\n    return {"a": a, "b": b}\n'


def test_formatted_code_is_unchanged():
    source = 'x = [1, 2, 3]\nprint("hello")\n'
    assert format_python(source) == source


def test_adds_missing_final_newline_and_wraps_long_lines():
    long_call = "result = some_function(" + ", ".join(f"arg{i}" for i in range(30)) + ")"
    formatted = format_python(long_call)
    assert formatted.endswith(")\n")
    assert all(len(line) <= 88 for line in formatted.splitlines())


def test_empty_code_stays_empty():
    assert format_python("") == ""


def test_syntax_error_is_a_value_error_with_position():
    with pytest.raises(CodeFormatError) as info:
        format_python("def broken(:\n    pass\n")
    assert isinstance(info.value, ValueError)
    assert "1:11" in str(info.value)
