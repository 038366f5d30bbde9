"""Reading an Open WebUI tool's Python source without running it in the server.

Frontmatter and function specs come from the text and `ast` alone. The Valves /
UserValves JSON schemas need the class body executed, so that happens in a
throw-away interpreter under wall-time, CPU and memory limits (see
`extract_valves_schemas`). This file doubles as that child's entry point, which is
why it imports nothing outside the standard library at module level.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.abc
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any


class ToolSourceError(ValueError):
    """The tool source is unusable: bad syntax, no Tools class, crash or limit hit."""


class ValvesValidationError(ValueError):
    """Valve values do not satisfy the Valves JSON schema."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


# --------------------------------------------------------------------------- frontmatter

_FRONTMATTER_LINE = re.compile(r"^\s*([a-z_]+):\s*(.*)\s*$", re.IGNORECASE)


def parse_frontmatter(source: str) -> dict[str, str]:
    """`key: value` lines of a leading triple-quoted block, as Open WebUI reads them.

    Like Open WebUI, the first line must be exactly `\"\"\"`; anything else means
    no frontmatter.
    """
    lines = source.splitlines()
    if not lines or lines[0].strip() != '"""':
        return {}
    manifest: dict[str, str] = {}
    for line in lines[1:]:
        if '"""' in line:
            break
        match = _FRONTMATTER_LINE.match(line)
        if match:
            manifest[match.group(1).strip()] = match.group(2).strip()
    return manifest


# --------------------------------------------------------------------------- specs (ast)


def parse_source(source: str) -> ast.Module:
    """Parse or raise ToolSourceError with the line and reason."""
    try:
        return ast.parse(source, filename="<tool>")
    except SyntaxError as exc:
        raise ToolSourceError(f"Invalid Python at line {exc.lineno}: {exc.msg}") from exc
    except ValueError as exc:  # e.g. NUL bytes in the source
        raise ToolSourceError(f"Invalid Python: {exc}") from exc


def parse_tool_specs(source: str) -> list[dict[str, Any]]:
    """OpenAI function specs for the public methods of `class Tools`, sorted by name.

    Mirrors Open WebUI's pydantic + langchain pipeline (titles removed, Optional
    collapsed, `None` defaults dropped, untyped → string) without importing the code.
    """
    tools_class = _find_tools_class(parse_source(source))
    methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in tools_class.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_public_method(node):
            methods[node.name] = node  # a later definition replaces an earlier one
    # Open WebUI walks dir(instance), which is alphabetical.
    return [_function_spec(methods[name]) for name in sorted(methods)]


def _find_tools_class(module: ast.Module) -> ast.ClassDef:
    found = [n for n in module.body if isinstance(n, ast.ClassDef) and n.name == "Tools"]
    if not found:
        raise ToolSourceError("No Tools class found in the module")
    return found[-1]


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


def _is_public_method(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    # A property is a value on the instance, not something the model can call.
    return not node.name.startswith("_") and "property" not in _decorator_names(node)


def _function_spec(node: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, Any]:
    doc = ast.get_docstring(node) or ""
    param_docs = _param_descriptions(doc)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for arg, default in _call_arguments(node):
        # pydantic turns underscore names (__user__, __event_emitter__…) into
        # private attributes, so Open WebUI's specs never show them.
        if arg.arg.startswith("_"):
            continue
        prop = _annotation_schema(arg.annotation)
        if arg.arg in param_docs:
            prop["description"] = param_docs[arg.arg]
        if default is _REQUIRED:
            required.append(arg.arg)
        elif default is not _UNKNOWN:
            prop["default"] = default
        properties[arg.arg] = prop
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    _clean_schema(parameters)
    return {"name": node.name, "description": _description(doc), "parameters": parameters}


_REQUIRED = object()
_UNKNOWN = object()  # a default exists but is not a literal we can evaluate


def _call_arguments(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[ast.arg, Any]]:
    args = node.args
    positional = args.posonlyargs + args.args
    pos_defaults = [_REQUIRED] * (len(positional) - len(args.defaults)) + [_literal(d) for d in args.defaults]
    pairs = list(zip(positional, pos_defaults, strict=True))
    if "staticmethod" not in _decorator_names(node) and pairs:
        pairs = pairs[1:]  # drop self / cls: the method is read bound
    kw_defaults = [_REQUIRED if d is None else _literal(d) for d in args.kw_defaults]
    return pairs + list(zip(args.kwonlyargs, kw_defaults, strict=True))


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _UNKNOWN


def _description(doc: str) -> str:
    lines = [line.strip() for line in doc.strip().split("\n")] if doc else []
    kept: list[str] = []
    for line in lines:
        if re.match(r":param", line) or re.match(r":return", line):
            break
        kept.append(line)
    return "\n".join(kept)


def _param_descriptions(doc: str) -> dict[str, str]:
    found = {}
    for line in doc.splitlines():
        match = re.match(r":param (\w+):\s*(.+)", line.strip())
        if match and not match.group(1).startswith("__"):
            found[match.group(1)] = match.group(2)
    return found


_SCALARS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "bytes": {"type": "string", "format": "binary"},
    "None": {"type": "null"},
    "NoneType": {"type": "null"},
    "list": {"type": "array", "items": {}},
    "List": {"type": "array", "items": {}},
    "set": {"type": "array", "items": {}, "uniqueItems": True},
    "tuple": {"type": "array", "items": {}},
    "dict": {"type": "object", "additionalProperties": True},
    "Dict": {"type": "object", "additionalProperties": True},
}


def _annotation_schema(node: ast.expr | None) -> dict[str, Any]:
    """JSON schema for a type hint, as pydantic would emit it; unknown → {}."""
    if node is None:
        return {}
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:  # a forward reference written as a string
            return _annotation_schema(ast.parse(node.value, mode="eval").body)
        except SyntaxError:
            return {}
    if isinstance(node, ast.Constant) and node.value is None:
        return {"type": "null"}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([node.left, node.right])
    if isinstance(node, ast.Subscript):
        return _generic_schema(_type_name(node.value), node.slice)
    return dict(_SCALARS.get(_type_name(node), {}))


def _type_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # typing.List, t.Optional …
        return node.attr
    return ""


def _generic_schema(name: str, arg: ast.expr) -> dict[str, Any]:
    items = list(arg.elts) if isinstance(arg, ast.Tuple) else [arg]
    if name == "Optional":
        return _union([items[0], ast.Constant(value=None)])
    if name == "Union":
        return _union(items)
    if name == "Annotated":
        return _annotation_schema(items[0])
    if name == "Literal":
        return _literal_schema(items)
    if name in ("list", "List", "Sequence", "Iterable"):
        return {"type": "array", "items": _annotation_schema(items[0])}
    if name in ("set", "Set", "frozenset", "FrozenSet"):
        return {"type": "array", "items": _annotation_schema(items[0]), "uniqueItems": True}
    if name in ("tuple", "Tuple"):
        return _tuple_schema(items)
    if name in ("dict", "Dict", "Mapping"):
        value = _annotation_schema(items[-1]) if len(items) == 2 else {}
        return {"type": "object", "additionalProperties": value or True}
    return {}


def _union(members: list[ast.expr]) -> dict[str, Any]:
    flat: list[dict[str, Any]] = []
    for member in members:
        schema = _annotation_schema(member)
        flat.extend(schema["anyOf"] if list(schema) == ["anyOf"] else [schema])
    return {"anyOf": flat}


def _literal_schema(items: list[ast.expr]) -> dict[str, Any]:
    values = [v for v in (_literal(i) for i in items) if v is not _UNKNOWN]
    schema: dict[str, Any] = {"const": values[0]} if len(values) == 1 else {"enum": values}
    kinds = {type(v) for v in values}
    json_types = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if len(kinds) == 1 and (kind := kinds.pop()) in json_types:
        schema["type"] = json_types[kind]
    return schema


def _tuple_schema(items: list[ast.expr]) -> dict[str, Any]:
    if len(items) == 2 and isinstance(items[1], ast.Constant) and items[1].value is Ellipsis:
        return {"type": "array", "items": _annotation_schema(items[0])}
    return {
        "type": "array",
        "prefixItems": [_annotation_schema(i) for i in items],
        "minItems": len(items),
        "maxItems": len(items),
    }


def _clean_schema(schema: Any) -> None:
    """Open WebUI's `clean_properties`: the shape LLM providers accept."""
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
        _clean_schema(prop)
    if "items" in schema:
        _clean_schema(schema["items"])


# --------------------------------------------------------------------------- valves


@dataclass(frozen=True)
class ValvesSchemas:
    valves: dict[str, Any] | None
    user_valves: dict[str, Any] | None
    # Top-level imports that were not installed and got a do-nothing stand-in.
    missing_imports: tuple[str, ...] = ()


# The child must not see the server's secrets, so it gets a fixed environment.
_CHILD_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}
_OUTPUT_LIMIT = 4 * 1024 * 1024


def extract_valves_schemas(
    source: str, *, timeout_s: float = 5.0, memory_mb: int = 512, cpu_s: int = 5
) -> ValvesSchemas:
    """Execute the source in an isolated, limited interpreter; return the JSON schemas
    of `Tools.Valves` and `Tools.UserValves` (None where a class is absent)."""
    parse_source(source)  # fail fast, and with a better message, on bad syntax
    with tempfile.TemporaryDirectory() as workdir, tempfile.TemporaryFile() as out:
        returncode = _run_child(source, workdir, out, timeout_s, memory_mb, cpu_s)
        out.seek(0)
        raw = out.read(_OUTPUT_LIMIT + 1)
    return _decode_child(raw, returncode, memory_mb, cpu_s)


def _run_child(source: str, workdir: str, out: Any, timeout_s: float, memory_mb: int, cpu_s: int) -> int:
    command = [sys.executable, "-I", "-B", os.path.abspath(__file__), str(memory_mb), str(cpu_s)]
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=out,  # a regular file, so RLIMIT_FSIZE caps what the child can write
        stderr=subprocess.DEVNULL,
        cwd=workdir,
        env=_CHILD_ENV,
        start_new_session=True,  # its own process group, so forks die with it
    )
    try:
        proc.communicate(source.encode("utf-8", "surrogatepass"), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise ToolSourceError(f"Tool code timed out (exceeded the {timeout_s:g} s wall-time limit)") from None
    _kill_group(proc)
    return proc.returncode


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _decode_child(raw: bytes, returncode: int, memory_mb: int, cpu_s: int) -> ValvesSchemas:
    if returncode == -signal.SIGXCPU:
        raise ToolSourceError(f"Tool code timed out (exceeded the {cpu_s} s CPU-time limit)")
    if returncode == -signal.SIGXFSZ or len(raw) > _OUTPUT_LIMIT:
        raise ToolSourceError("Tool code produced too much output")
    try:
        result = json.loads(raw)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        raise ToolSourceError(f"Tool code stopped the interpreter without an answer (exit status {returncode})")
    if result.get("kind") == "memory":
        raise ToolSourceError(f"Tool code exceeded the {memory_mb} MB memory limit")
    if not result.get("ok"):
        raise ToolSourceError(str(result.get("message") or "Tool code failed"))
    return ValvesSchemas(
        valves=result.get("valves"),
        user_valves=result.get("user_valves"),
        missing_imports=tuple(result.get("missing_imports", ())),
    )


def valves_defaults(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The defaults a Valves schema declares; fields without one are left out."""
    properties = (schema or {}).get("properties", {})
    return {name: prop["default"] for name, prop in properties.items() if "default" in prop}


def validate_valves(schema: dict[str, Any] | None, values: dict[str, Any]) -> dict[str, Any]:
    """Check `values` against a Valves schema; return what Open WebUI would store.

    Like Open WebUI's update endpoints: `None` values are dropped, unknown keys are
    ignored, and only the supplied fields are returned. Unlike pydantic's lax mode,
    no coercion happens ("5" is not an integer).
    """
    # Imported here so the sandbox child, which runs this file, never loads it.
    import jsonschema

    if not schema:
        raise ValvesValidationError(["this tool has no valves"])
    known = schema.get("properties", {})
    supplied = {k: v for k, v in values.items() if v is not None and k in known}
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(supplied), key=lambda e: list(e.absolute_path))
    if errors:
        raise ValvesValidationError([_format_error(e) for e in errors])
    return supplied


def _format_error(error: Any) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return f"{path}: {error.message}" if path else error.message


# --------------------------------------------------------------------------- child side


def _child_main(memory_mb: int, cpu_s: int) -> None:
    _limit_resources(memory_mb, cpu_s)
    result_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the tool's own prints must not corrupt the JSON answer
    os.dup2(devnull, 2)
    source = sys.stdin.buffer.read().decode("utf-8", "surrogatepass")
    try:
        result = _child_schemas(source)
    except MemoryError:
        result = {"ok": False, "kind": "memory"}
    except BaseException as exc:  # noqa: BLE001 - any failure is reported, SystemExit too
        result = {"ok": False, "kind": "error", "message": _describe(exc)}
    with os.fdopen(result_fd, "wb") as answer:
        answer.write(json.dumps(result, default=str).encode())


def _limit_resources(memory_mb: int, cpu_s: int) -> None:
    import resource

    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (_OUTPUT_LIMIT, _OUTPUT_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ToolSourceError):
        return str(exc)
    if isinstance(exc, SystemExit):
        return f"Tool code exited while loading (exit status {exc.code})"
    line = _tool_line(exc.__traceback__)
    where = f" at line {line}" if line else ""
    return f"Tool code raised {type(exc).__name__}{where}: {exc}"


def _tool_line(tb: Any) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<tool>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _child_schemas(source: str) -> dict[str, Any]:
    import importlib.util
    import types

    import pydantic  # loaded before any stand-in module can be registered

    tree = ast.parse(source, filename="<tool>")
    missing = sorted(name for name in _top_level_imports(tree) if importlib.util.find_spec(name) is None)
    sys.meta_path.append(_StubFinder(set(missing)))
    module = types.ModuleType("tool_module")
    module.__file__ = "<tool>"
    sys.modules[module.__name__] = module  # pydantic resolves annotations through it
    exec(compile(tree, "<tool>", "exec"), module.__dict__)  # noqa: S102 - the sandbox's job
    tools = module.__dict__.get("Tools")
    if not isinstance(tools, type):
        raise ToolSourceError("No Tools class found in the module")

    def schema_of(name: str) -> dict[str, Any] | None:
        cls = getattr(tools, name, None)
        if isinstance(cls, type) and issubclass(cls, pydantic.BaseModel):
            return cls.model_json_schema()
        return None

    return {
        "ok": True,
        "valves": schema_of("Valves"),
        "user_valves": schema_of("UserValves"),
        "missing_imports": missing,
    }


def _top_level_imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


class _Stub:
    """Absorbs any use, so `import requests` etc. need not be installed for a schema."""

    def __getattr__(self, name: str) -> _Stub:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub()

    def __call__(self, *args: Any, **kwargs: Any) -> _Stub:
        return _Stub()

    def __getitem__(self, key: Any) -> _Stub:
        return _Stub()

    def __mro_entries__(self, bases: tuple) -> tuple:
        return (object,)


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, roots: set[str]):
        self.roots = roots

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        import importlib.machinery

        if name.split(".")[0] not in self.roots:
            return None
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec: Any) -> Any:
        import types

        module = types.ModuleType(spec.name)
        # __getattr__ is the PEP 562 hook: any name imported from it is a _Stub.
        module.__dict__.update(__path__=[], __all__=[], __getattr__=lambda attr: _Stub())
        return module

    def exec_module(self, module: Any) -> None:
        pass


if __name__ == "__main__":
    _child_main(int(sys.argv[1]), int(sys.argv[2]))
