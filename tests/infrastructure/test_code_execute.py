import asyncio

import pytest

from infrastructure.code_execute import (
    CodeExecutionNotConfigured,
    ExecutionOutput,
    auth_headers,
    channels_url,
    execute_code,
    execute_request,
    jupyter_config,
    kernels_url,
)


@pytest.mark.parametrize("url", [None, "", "   ", "localhost:8888", "ftp://host/", "http://"])
def test_missing_or_unusable_url_is_not_configured(url):
    with pytest.raises(CodeExecutionNotConfigured):
        jupyter_config(url, "tok")


def test_executing_without_configuration_raises_before_any_io():
    with pytest.raises(CodeExecutionNotConfigured) as info:
        asyncio.run(execute_code(None, "print(1)"))
    assert isinstance(info.value, ValueError)


def test_urls_for_plain_http_server():
    config = jupyter_config("http://jupyter:8888", "secret", 30)
    assert config.timeout_s == 30
    assert kernels_url(config) == "http://jupyter:8888/api/kernels"
    assert channels_url(config, "k1") == "ws://jupyter:8888/api/kernels/k1/channels"


def test_urls_keep_a_path_prefix_and_switch_to_wss():
    config = jupyter_config("https://hub.example.com/user/ann/", None)
    assert kernels_url(config) == "https://hub.example.com/user/ann/api/kernels"
    assert channels_url(config, "abc") == "wss://hub.example.com/user/ann/api/kernels/abc/channels"


def test_token_goes_in_the_header_not_the_url():
    config = jupyter_config("http://jupyter:8888", "secret")
    assert auth_headers(config) == {"Authorization": "token secret"}
    assert "secret" not in kernels_url(config) + channels_url(config, "k")
    assert auth_headers(jupyter_config("http://jupyter:8888", "")) == {}


def test_execute_request_message():
    message = execute_request("print(1)", "m1", "s1")
    assert message["header"]["msg_type"] == "execute_request"
    assert message["header"]["msg_id"] == "m1" and message["header"]["session"] == "s1"
    assert message["channel"] == "shell"
    assert message["content"]["code"] == "print(1)"
    assert message["content"]["allow_stdin"] is False


def _reply(msg_type, content, parent="m1"):
    return {"msg_type": msg_type, "parent_header": {"msg_id": parent}, "content": content}


def test_output_collects_replies_until_idle():
    output = ExecutionOutput("m1")
    replies = [
        _reply("status", {"execution_state": "busy"}),
        _reply("stream", {"name": "stdout", "text": "hello\n"}),
        _reply("stream", {"name": "stdout", "text": "other\n"}, parent="zzz"),
        _reply("stream", {"name": "stderr", "text": "warn\n"}),
        _reply("execute_result", {"data": {"text/plain": "42"}}),
        _reply("display_data", {"data": {"image/png": "iVBOR", "text/plain": "<Figure>"}}),
        _reply("error", {"traceback": ["Traceback", "ZeroDivisionError"]}),
    ]
    assert not any(output.feed(r) for r in replies)
    assert output.feed(_reply("status", {"execution_state": "idle"}))
    assert output.as_dict() == {
        "stdout": "hello",
        "stderr": "warn\nTraceback\nZeroDivisionError",
        "result": "42\ndata:image/png;base64,iVBOR",
    }
