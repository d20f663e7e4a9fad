"""JSON schemas for tools: normalise dialects, tidy pydantic output, and build pydantic models from schemas.

Small models read every token of a tool schema, and grammar builders choke on ``$ref``; so schemas are kept
inline, without pydantic's ``title`` noise. BFCL writes its own dialect (``dict``, ``float``, ``tuple``,
``any``), which is mapped to JSON Schema here once, so nothing downstream has to know it.
"""

from __future__ import annotations

import copy
import keyword
import re
from typing import Annotated, Any, Optional, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from tinycrew.tools.coercion import Bool, Float, Int, Str

# Type names seen in the wild (BFCL's dialect, Python names) mapped to JSON Schema; None means "any value".
_TYPE_ALIASES: dict[str, str | None] = {
    "dict": "object",
    "float": "number",
    "tuple": "array",
    "any": None,
    "str": "string",
    "int": "integer",
    "bool": "boolean",
    "list": "array",
}
_JSON_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SUBSCHEMA_ONE = ("items", "additionalProperties", "not", "contains")


def _map_type(value: Any, where: str) -> Any:
    if isinstance(value, list):
        mapped = [_map_type(item, where) for item in value]
        return None if None in mapped else mapped
    if not isinstance(value, str):
        raise ValueError(f"schema type at {where} must be a string, got {value!r}")
    if value in _JSON_TYPES:
        return value
    if value in _TYPE_ALIASES:
        return _TYPE_ALIASES[value]
    raise ValueError(f"unsupported schema type {value!r} at {where}")


def _walk(schema: Any, where: str, visit: Any) -> Any:
    """Apply ``visit`` to every sub-schema (not to property *names*), children first."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in _SUBSCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: _walk(sub, f"{where}.{name}", visit) for name, sub in out[key].items()}
    for key in _SUBSCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_walk(sub, f"{where}.{key}[{i}]", visit) for i, sub in enumerate(out[key])]
    for key in _SUBSCHEMA_ONE:
        if isinstance(out.get(key), dict):
            out[key] = _walk(out[key], f"{where}.{key}", visit)
        elif key == "items" and isinstance(out.get(key), list):
            out[key] = [_walk(sub, f"{where}.items[{i}]", visit) for i, sub in enumerate(out[key])]
    return visit(out, where)


def _fix_dialect(node: dict[str, Any], where: str) -> dict[str, Any]:
    if "type" in node:
        mapped = _map_type(node["type"], where)
        if mapped is None:
            del node["type"]
        else:
            node["type"] = mapped
    node.pop("title", None)
    return node


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace local ``$ref`` pointers (``#/$defs/X``, ``#/definitions/X``) by the schemas they name.

    A recursive reference becomes ``{}`` (any value) at the point where it would recurse.

    >>> inline_refs({"$defs": {"P": {"type": "integer"}}, "properties": {"x": {"$ref": "#/$defs/P"}}})
    {'properties': {'x': {'type': 'integer'}}}
    """
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            defs[f"#/{key}/{name}"] = sub

    def resolve(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [resolve(item, stack) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref not in defs:
                raise ValueError(f"cannot resolve schema reference {ref!r}")
            rest = {k: v for k, v in node.items() if k != "$ref"}
            if ref in stack:
                return resolve(rest, stack)
            return {**resolve(defs[ref], (*stack, ref)), **resolve(rest, stack)}
        out = {}
        for key, value in node.items():
            if key in ("$defs", "definitions"):
                continue
            if key in _SUBSCHEMA_MAPS:
                out[key] = {name: resolve(sub, stack) for name, sub in value.items()}
            else:
                out[key] = resolve(value, stack) if isinstance(value, (dict, list)) else value
        return out

    return resolve(schema, ())


def normalize_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a JSON Schema from a tool-parameter schema in any common dialect.

    Maps BFCL's ``dict``/``float``/``tuple``/``any`` (and Python type names) to JSON Schema, inlines
    ``$ref``, drops ``title`` keywords. Idempotent; the input is not modified.

    >>> normalize_schema({"type": "dict", "properties": {"x": {"type": "float"}}})
    {'type': 'object', 'properties': {'x': {'type': 'number'}}}
    """
    if not isinstance(schema, dict):
        raise ValueError(f"a parameter schema must be a JSON object, got {type(schema).__name__}")
    return _walk(inline_refs(copy.deepcopy(schema)), "parameters", _fix_dialect)


def _collapse_optional(node: dict[str, Any], where: str) -> dict[str, Any]:
    """``anyOf: [X, null]`` on a property that may be omitted becomes just X: omitting it says the same."""
    required = set(node.get("required") or ())
    for name, prop in (node.get("properties") or {}).items():
        alternatives = prop.get("anyOf")
        if name in required or not isinstance(alternatives, list):
            continue
        rest = [alt for alt in alternatives if alt != {"type": "null"}]
        if len(rest) == 1 and len(rest) < len(alternatives):
            merged = {k: v for k, v in prop.items() if k != "anyOf"}
            if merged.get("default", 0) is None:
                del merged["default"]
            node["properties"][name] = {**rest[0], **merged}
    return node


_KEY_ORDER = ("type", "description", "enum", "const", "items", "properties", "required", "default")


def _reorder(node: dict[str, Any], where: str) -> dict[str, Any]:
    """Type first, then description: the order a model (and a person) reads a schema in."""
    first = {key: node[key] for key in _KEY_ORDER if key in node}
    return {**first, **{key: value for key, value in node.items() if key not in first}}


def schema_from_model(model: type[BaseModel]) -> dict[str, Any]:
    """The clean JSON schema of an argument model: inline, no titles, optional ``X | None`` shown as X."""
    schema = _walk(normalize_schema(model.model_json_schema(by_alias=True)), "parameters", _collapse_optional)
    schema.pop("additionalProperties", None)
    schema["type"] = "object"
    schema.setdefault("properties", {})
    if not schema.get("required"):
        schema.pop("required", None)
    return _walk(schema, "parameters", _reorder)


def field_key(index: int, name: str) -> str:
    """A safe pydantic field name for parameter ``name``; the real name is always the field's alias.

    Parameter names such as ``json``, ``model_id``, ``from`` or ``odd-name`` cannot be model fields.
    """
    return f"p{index}_{name}" if name.isidentifier() and not keyword.iskeyword(name) else f"p{index}"


class SchemaObject(BaseModel):
    """Base of models built from JSON schemas; their instances are turned back into plain dicts."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class OpenSchemaObject(SchemaObject):
    """A schema object that keeps keys it does not describe (``additionalProperties`` allowed)."""

    model_config = ConfigDict(extra="allow")


_CONSTRAINTS = {
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minItems": "min_length",
    "maxItems": "max_length",
}


def _check_enum(allowed: list[Any]) -> AfterValidator:
    def check(value: Any) -> Any:
        if any(value == option and type(value) is type(option) for option in allowed) or (
            isinstance(value, float) and any(isinstance(o, int) and value == o for o in allowed)
        ):
            return value
        raise PydanticCustomError("enum", "Input should be one of the allowed values")

    return AfterValidator(check)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _model_name(text: str) -> str:
    return re.sub(r"\W", "_", text) or "Args"


def _type_from_schema(schema: dict[str, Any], name: str) -> Any:
    """The Python annotation (with safe coercions) that validates values of a normalised JSON schema."""
    if "enum" in schema or "const" in schema:
        allowed = list(schema["enum"]) if "enum" in schema else [schema["const"]]
        base = _type_from_schema({k: v for k, v in schema.items() if k not in ("enum", "const")}, name)
        return Annotated[base, _check_enum(allowed)]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            members = [_type_from_schema(sub, f"{name}_{i}") for i, sub in enumerate(schema[key])]
            return members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007
    if isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
        return _type_from_schema(
            {**schema["allOf"][0], **{k: v for k, v in schema.items() if k != "allOf"}}, name
        )
    kind = schema.get("type")
    if isinstance(kind, list):
        members = [_type_from_schema({**schema, "type": k}, name) for k in kind]
        return members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007
    constraints = {
        _CONSTRAINTS[k]: v
        for k, v in schema.items()
        if k in _CONSTRAINTS and (isinstance(v, str) if k == "pattern" else _is_number(v))
    }
    if kind == "string":
        base: Any = Str
    elif kind == "integer":
        base = Int
    elif kind == "number":
        base = Float
    elif kind == "boolean":
        base = Bool
    elif kind == "null":
        return None
    elif kind == "array":
        items = schema.get("items")
        base = list[_type_from_schema(items, f"{name}_item")] if isinstance(items, dict) else list[Any]
    elif kind == "object" or (kind is None and "properties" in schema):
        base = _object_type(schema, name)
    elif kind is None:
        return Any
    else:
        raise ValueError(f"unsupported schema type {kind!r} in {name}")
    if kind in ("integer", "number"):
        constraints = {k: v for k, v in constraints.items() if k in ("ge", "le", "gt", "lt")}
    elif kind not in ("string", "array"):
        constraints = {}
    return Annotated[base, Field(**constraints)] if constraints else base


def _object_type(schema: dict[str, Any], name: str) -> Any:
    properties = schema.get("properties")
    extra = schema.get("additionalProperties")
    if not properties:
        if isinstance(extra, dict):
            return dict[str, _type_from_schema(extra, f"{name}_value")]
        return dict[str, Any]
    return model_from_schema(schema, name, allow_extra=extra is True or isinstance(extra, dict))


def model_from_schema(schema: dict[str, Any], name: str, *, allow_extra: bool = False) -> type[SchemaObject]:
    """A pydantic model for an object schema: required fields, defaults, aliases for any property name.

    Optional properties without a default accept ``null`` too (many models send it for "not given").
    """
    required = set(schema.get("required") or ())
    fields: dict[str, Any] = {}
    for index, (prop, sub) in enumerate((schema.get("properties") or {}).items()):
        if not isinstance(sub, dict):
            raise ValueError(f"schema of property {prop!r} in {name} must be an object, got {sub!r}")
        annotation = _type_from_schema(sub, f"{name}_{prop}")
        if prop in required:
            fields[field_key(index, prop)] = (annotation, Field(..., alias=prop))
        else:
            default = copy.deepcopy(sub.get("default"))
            fields[field_key(index, prop)] = (Optional[annotation], Field(default=default, alias=prop))  # noqa: UP045
    base = OpenSchemaObject if allow_extra else SchemaObject
    return create_model(_model_name(name), __base__=base, **fields)


_RESTRICTING = ("anyOf", "oneOf", "allOf", "enum", "const", "properties", "items", "$ref")


def _allows_null(schema: dict[str, Any]) -> bool:
    """Whether a schema admits ``null`` explicitly (so a ``None`` argument is meant, not a stand-in)."""
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if kind is None and not any(key in schema for key in _RESTRICTING):
        return True  # a schema without a type accepts anything, null included
    return any(_allows_null(sub) for key in ("anyOf", "oneOf") for sub in schema.get(key) or ())


def prune_none(value: Any, schema: dict[str, Any]) -> Any:
    """Drop ``None`` for optional properties whose schema has no ``null``: the model meant "omitted"."""
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        props = schema["properties"]
        required = set(schema.get("required") or ())
        out = {}
        for key, item in value.items():
            sub = props.get(key, {})
            if item is None and key not in required and not _allows_null(sub):
                continue
            out[key] = prune_none(item, sub)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune_none(item, schema["items"]) for item in value]
    return value
