import inspect
import os
import re
import textwrap
import time
import types
import typing
from pathlib import Path

import pytest
from pydantic import Field, create_model

from infrastructure.tool_source import (
    ToolSourceError,
    ValvesSchemas,
    ValvesValidationError,
    extract_valves_schemas,
    parse_frontmatter,
    parse_tool_specs,
    validate_valves,
    valves_defaults,
)

REALISTIC_TOOL = textwrap.dedent(
    '''\
    """
    title: City Weather
    author: open-webui
    author_url: https://example.com
    version: 0.2.1
    requirements: requests, pytz
    description: Current weather for a city.
    """

    import json
    from enum import Enum
    from typing import Literal, Optional

    from pydantic import BaseModel, Field


    class Tools:
        class Valves(BaseModel):
            api_key: str = Field(default="", description="OpenWeatherMap API key")
            base_url: str = Field(
                default="https://api.openweathermap.org/data/2.5",
                description="API base URL",
            )
            timeout: float = Field(default=10.0, description="Request timeout in seconds")
            max_results: int = Field(default=5, ge=1, le=20, description="Results cap")
            enabled: bool = True

        class UserValves(BaseModel):
            units: Literal["metric", "imperial"] = Field(
                default="metric", description="Preferred units"
            )
            home_city: Optional[str] = Field(default=None, description="Default city")

        def __init__(self):
            self.valves = self.Valves()
            self.citation = True

        async def get_current_weather(
            self,
            city: str,
            units: Literal["metric", "imperial"] = "metric",
            days: int = 1,
            include_hourly: bool = False,
            __user__: dict = {},
            __event_emitter__=None,
        ) -> str:
            """
            Get the current weather for a city.
            Uses the OpenWeatherMap API.
            :param city: The name of the city, e.g. "Berlin"
            :param units: Unit system for temperatures
            :param days: How many days to forecast
            :return: A human-readable report
            """
            return json.dumps({"city": city})

        def convert_temperature(
            self, value: float, to_unit: str, precision: Optional[int] = None
        ) -> float:
            """Convert a temperature.
            :param value: The temperature value
            :param to_unit: Target unit, "C" or "F"
            """
            return value

        def tag_cities(self, cities: list[str], tags: dict[str, int], note=None) -> str:
            """Tag some cities."""
            return ""

        @staticmethod
        def ping() -> str:
            """Health check."""
            return "pong"

        def _helper(self, x: int) -> int:
            return x

        @property
        def name(self) -> str:
            return "weather"
    '''
)


def _extract(source: str) -> ValvesSchemas:
    # The limits have their own tests; elsewhere a busy CI machine must not look like a hang.
    return extract_valves_schemas(source, timeout_s=30)


def _load_in_process(source: str) -> types.ModuleType:
    # Trusted test fixture: this is the oracle, run the way Open WebUI runs tools.
    module = types.ModuleType("oracle_tool")
    exec(compile(source, "<oracle>", "exec"), module.__dict__)
    return module


def _openwebui_clean(schema):
    """Open WebUI's clean_properties, copied independently of the code under test."""
    if not isinstance(schema, dict):
        return
    if "anyOf" in schema:
        non_null = [t for t in schema["anyOf"] if t.get("type") != "null"]
        if len(non_null) == 1:
            schema.update(non_null[0])
            del schema["anyOf"]
        else:
            schema["anyOf"] = non_null
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    if "type" not in schema and "anyOf" not in schema and "properties" not in schema:
        schema["type"] = "string"
    for prop in schema.get("properties", {}).values():
        _openwebui_clean(prop)
    if "items" in schema:
        _openwebui_clean(schema["items"])


def _oracle_spec(func) -> dict:
    """Open WebUI's convert_function_to_pydantic_model + langchain's conversion."""
    doc = func.__doc__ or ""
    lines = [line.strip() for line in doc.strip().split("\n")] if doc else []
    description = "\n".join(_until_param(lines))
    params = {}
    for line in doc.splitlines():
        match = re.match(r":param (\w+):\s*(.+)", line.strip())
        if match and not match.group(1).startswith("__"):
            params[match.group(1)] = match.group(2)
    hints = typing.get_type_hints(func)
    fields = {}
    for name, param in inspect.signature(func).parameters.items():
        default = param.default if param.default is not param.empty else ...
        hint = hints.get(name, typing.Any)
        desc = params.get(name)
        fields[name] = (hint, Field(default, description=desc)) if desc else (hint, default)
    model = create_model(func.__name__, **fields)
    model.__doc__ = description
    schema = model.model_json_schema()
    name = schema.pop("title")
    schema.pop("description", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    spec = {"name": name, "description": description, "parameters": schema}
    _openwebui_clean(spec["parameters"])
    return spec


def _until_param(lines: list[str]) -> list[str]:
    kept = []
    for line in lines:
        if line.startswith(":param") or line.startswith(":return"):
            break
        kept.append(line)
    return kept


# --------------------------------------------------------------------------- frontmatter


def test_frontmatter_reads_manifest_lines():
    assert parse_frontmatter(REALISTIC_TOOL) == {
        "title": "City Weather",
        "author": "open-webui",
        "author_url": "https://example.com",
        "version": "0.2.1",
        "requirements": "requests, pytz",
        "description": "Current weather for a city.",
    }


def test_frontmatter_requires_opening_quotes_on_first_line():
    assert parse_frontmatter('import os\n"""\ntitle: X\n"""\n') == {}
    assert parse_frontmatter('"""title: X\n"""\n') == {}
    assert parse_frontmatter("") == {}


def test_frontmatter_stops_at_closing_quotes():
    source = '"""\ntitle: A\n"""\nversion: 9\n'
    assert parse_frontmatter(source) == {"title": "A"}


# --------------------------------------------------------------------------- specs


def test_specs_match_open_webui_pydantic_pipeline():
    tools = _load_in_process(REALISTIC_TOOL).Tools()
    public = sorted(
        name
        for name in dir(tools)
        if not name.startswith("_") and callable(getattr(tools, name)) and not inspect.isclass(getattr(tools, name))
    )
    expected = [_oracle_spec(getattr(tools, name)) for name in public]
    assert parse_tool_specs(REALISTIC_TOOL) == expected


def test_specs_shape_for_the_main_method():
    specs = {s["name"]: s for s in parse_tool_specs(REALISTIC_TOOL)}
    assert sorted(specs) == ["convert_temperature", "get_current_weather", "ping", "tag_cities"]
    weather = specs["get_current_weather"]
    assert weather["description"] == ("Get the current weather for a city.\nUses the OpenWeatherMap API.")
    params = weather["parameters"]
    assert params["required"] == ["city"]
    assert params["properties"]["city"] == {
        "type": "string",
        "description": 'The name of the city, e.g. "Berlin"',
    }
    assert params["properties"]["units"]["enum"] == ["metric", "imperial"]
    assert params["properties"]["days"] == {
        "type": "integer",
        "default": 1,
        "description": "How many days to forecast",
    }
    assert "__user__" not in params["properties"]
    assert "__event_emitter__" not in params["properties"]
    assert specs["ping"]["parameters"] == {"type": "object", "properties": {}}


def test_specs_never_execute_the_code(tmp_path: Path):
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').close()\nclass Tools:\n    def a(self, x: int): pass\n"
    assert [s["name"] for s in parse_tool_specs(source)] == ["a"]
    assert not marker.exists()


def test_specs_handle_union_pipe_and_string_annotations():
    source = textwrap.dedent(
        """\
        class Tools:
            def f(self, a: "int | None" = None, b: str | int = 1, c: tuple[int, str] = (1, "x")):
                pass
        """
    )
    props = parse_tool_specs(source)[0]["parameters"]["properties"]
    assert props["a"] == {"type": "integer"}
    assert props["b"] == {"anyOf": [{"type": "string"}, {"type": "integer"}], "default": 1}
    assert props["c"]["prefixItems"] == [{"type": "integer"}, {"type": "string"}]


def test_specs_reject_invalid_python_and_missing_class():
    with pytest.raises(ToolSourceError, match="line 2"):
        parse_tool_specs("class Tools:\n    def f(self:\n")
    with pytest.raises(ToolSourceError, match="No Tools class"):
        parse_tool_specs("class Helpers:\n    pass\n")


# --------------------------------------------------------------------------- valves (sandbox)


def test_valves_schemas_equal_pydantic_in_process():
    oracle = _load_in_process(REALISTIC_TOOL).Tools
    result = _extract(REALISTIC_TOOL)
    assert result.valves == oracle.Valves.model_json_schema()
    assert result.user_valves == oracle.UserValves.model_json_schema()
    assert result.missing_imports == ()


def test_tool_without_valves_gives_none():
    result = _extract("class Tools:\n    def f(self): pass\n")
    assert result.valves is None and result.user_valves is None


def test_uninstalled_imports_are_stood_in_for():
    source = textwrap.dedent(
        """\
        import definitely_not_installed_pkg_xyz as dn
        from definitely_not_installed_pkg_xyz.sub import Client
        from pydantic import BaseModel

        CLIENT = Client(dn.settings.url)

        class Tools:
            class Valves(BaseModel):
                token: str = "t"
        """
    )
    result = _extract(source)
    assert result.valves["properties"]["token"]["default"] == "t"
    assert result.missing_imports == ("definitely_not_installed_pkg_xyz",)


def test_infinite_loop_in_class_body_times_out():
    source = "class Tools:\n    while True:\n        pass\n"
    started = time.monotonic()
    with pytest.raises(ToolSourceError, match="timed out"):
        extract_valves_schemas(source, timeout_s=1.5)
    assert time.monotonic() - started < 10


def test_sleeping_forever_hits_the_wall_clock_limit():
    with pytest.raises(ToolSourceError, match="wall-time"):
        extract_valves_schemas("import time\ntime.sleep(3600)\n", timeout_s=1)


def test_cpu_limit_stops_a_busy_loop():
    with pytest.raises(ToolSourceError, match="CPU-time"):
        extract_valves_schemas("while True:\n    pass\n", timeout_s=20, cpu_s=1)


def test_unbounded_allocation_hits_memory_limit():
    source = "class Tools:\n    hog = []\n    while True:\n        hog.append(bytearray(10**7))\n"
    started = time.monotonic()
    with pytest.raises(ToolSourceError, match="memory limit"):
        extract_valves_schemas(source, memory_mb=256, timeout_s=20)
    assert time.monotonic() - started < 20


def test_invalid_python_is_a_readable_error():
    with pytest.raises(ToolSourceError, match=r"Invalid Python at line 3") as info:
        extract_valves_schemas("class Tools:\n    x = 1\n    def broken(self\n")
    assert isinstance(info.value, ValueError)


def test_runtime_error_names_the_exception_and_line():
    with pytest.raises(ToolSourceError, match=r"NameError at line 2: name 'nope'"):
        _extract("class Tools:\n    y = nope\n")


def test_sys_exit_is_reported_not_obeyed():
    with pytest.raises(ToolSourceError, match="exited"):
        _extract("import sys\nsys.exit(0)\n")


def test_child_gets_no_server_secrets(monkeypatch):
    monkeypatch.setenv("CHRONICLE_TEST_SECRET", "hunter2")
    source = textwrap.dedent(
        """\
        import os
        from pydantic import BaseModel

        class Tools:
            class Valves(BaseModel):
                seen: str = os.environ.get("CHRONICLE_TEST_SECRET", "absent")
        """
    )
    assert _extract(source).valves["properties"]["seen"]["default"] == "absent"


def test_tool_output_does_not_corrupt_the_answer():
    source = (
        "import sys\nprint('{not json')\nsys.stderr.write('noise')\n"
        "from pydantic import BaseModel\n"
        "class Tools:\n    class Valves(BaseModel):\n        a: int = 1\n"
    )
    assert _extract(source).valves["properties"]["a"]["default"] == 1


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_forked_processes_are_killed_with_the_child():
    source = textwrap.dedent(
        """\
        import os, time
        from pydantic import BaseModel

        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)

        class Tools:
            class Valves(BaseModel):
                grandchild: int = pid
        """
    )
    pid = _extract(source).valves["properties"]["grandchild"]["default"]
    assert pid > 0 and pid != os.getpid()
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


# --------------------------------------------------------------------------- defaults / validation


@pytest.fixture(scope="module")
def schemas():
    return _extract(REALISTIC_TOOL)


def test_valves_defaults(schemas):
    assert valves_defaults(schemas.valves) == {
        "api_key": "",
        "base_url": "https://api.openweathermap.org/data/2.5",
        "timeout": 10.0,
        "max_results": 5,
        "enabled": True,
    }
    assert valves_defaults(schemas.user_valves) == {"units": "metric", "home_city": None}
    assert valves_defaults(None) == {}


def test_validate_valves_keeps_supplied_known_fields(schemas):
    values = {"api_key": "k", "max_results": 7, "timeout": 3, "unknown": 1, "enabled": None}
    assert validate_valves(schemas.valves, values) == {
        "api_key": "k",
        "max_results": 7,
        "timeout": 3,
    }


def test_validate_valves_reports_every_problem(schemas):
    with pytest.raises(ValvesValidationError) as info:
        validate_valves(schemas.valves, {"max_results": 99, "enabled": "yes", "api_key": 5})
    errors = info.value.errors
    assert len(errors) == 3
    assert any(e.startswith("max_results:") and "20" in e for e in errors)
    assert any(e.startswith("enabled:") and "boolean" in e for e in errors)
    assert isinstance(info.value, ValueError)


def test_validate_valves_enum_and_required_fields(schemas):
    with pytest.raises(ValvesValidationError, match="units"):
        validate_valves(schemas.user_valves, {"units": "kelvin"})
    required = {
        "type": "object",
        "properties": {"token": {"type": "string"}},
        "required": ["token"],
    }
    with pytest.raises(ValvesValidationError, match="'token' is a required property"):
        validate_valves(required, {"token": None})


def test_validate_valves_follows_refs_for_enum_classes():
    source = textwrap.dedent(
        """\
        from enum import Enum
        from pydantic import BaseModel

        class Mode(str, Enum):
            fast = "fast"
            safe = "safe"

        class Tools:
            class Valves(BaseModel):
                mode: Mode = Mode.safe
        """
    )
    schema = _extract(source).valves
    assert "$defs" in schema
    assert validate_valves(schema, {"mode": "fast"}) == {"mode": "fast"}
    with pytest.raises(ValvesValidationError):
        validate_valves(schema, {"mode": "reckless"})


def test_validate_valves_without_schema():
    with pytest.raises(ValvesValidationError, match="no valves"):
        validate_valves(None, {"a": 1})


@pytest.mark.parametrize(
    "source", ["import os\nos._exit(0)\n", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"]
)
def test_interpreter_killed_by_the_tool_is_an_error(source):
    with pytest.raises(ToolSourceError, match="without an answer"):
        _extract(source)
