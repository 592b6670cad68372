"""Is a new JSON Schema of an event a breaking change from the old one?

The rule is backward compatibility: every instance the old schema accepts, the new one must
accept too, so consumers upgraded first still read every event already in the log. So a property
removed, a property newly required, or a type, enum, const, format, pattern or bound narrowed or
changed is breaking; a new optional property or a widened type is not.

A new value is additive only where consumers not yet upgraded tolerate it, since a producer may
be upgraded first: in a vocabulary (an enum marked `x-extensible`), when shaped as the values
consumers keep (`UNKNOWN_VALUE`). A value added to any other enum or const (a literal), or one
shaped otherwise, would be dead-lettered by older consumers, and is reported.
The check is conservative: what it cannot prove compatible it reports.
"""

from typing import Any

from contact_common.events.common import UNKNOWN_VALUE

_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "$schema",
        "$id",
        "deprecated",
        "x-extensible",
    }
)
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_EXACT = ("pattern", "format", "multipleOf")
_MAX_DEPTH = 64


def breaking_changes(old_schema: dict[str, Any], new_schema: dict[str, Any]) -> list[str]:
    """What in `new_schema` would refuse an instance `old_schema` accepts, one line per change."""
    return _Comparison(old_schema, new_schema).problems_at(old_schema, new_schema, "$", 0)


class _Comparison:
    def __init__(self, old_root: dict[str, Any], new_root: dict[str, Any]) -> None:
        self.old_root = old_root
        self.new_root = new_root

    def problems_at(self, old: Any, new: Any, path: str, depth: int) -> list[str]:
        if depth > _MAX_DEPTH:
            return []  # a recursive schema: this far down, the same comparison is already made
        old = _resolve(old, self.old_root)
        new = _resolve(new, self.new_root)
        if new is True or (isinstance(new, dict) and not _constraints(new)):
            return []
        if old is False:
            return []
        if new is False:
            return [f"{path}: no longer accepts anything"]
        if old is True or not _constraints(old):
            return [f"{path}: was unconstrained, now constrained"]

        old_alternatives = old.get("anyOf") or old.get("oneOf")
        if old_alternatives:
            base = _without(old, "anyOf", "oneOf")
            problems: list[str] = []
            for alternative in old_alternatives:
                merged = _merge(base, _resolve(alternative, self.old_root))
                problems += self.problems_at(merged, new, path, depth + 1)
            return _unique(problems)

        new_alternatives = new.get("anyOf") or new.get("oneOf")
        if new_alternatives:
            base = _without(new, "anyOf", "oneOf")
            candidates = [
                self.problems_at(old, _merge(base, _resolve(alt, self.new_root)), path, depth + 1)
                for alt in new_alternatives
            ]
            return min(candidates, key=len)

        return self._compare_single(old, new, path, depth)

    def _compare_single(
        self, old: dict[str, Any], new: dict[str, Any], path: str, depth: int
    ) -> list[str]:
        problems: list[str] = []

        new_types = _types(new)
        if new_types is not None:
            old_types = _types(old)
            if old_types is None:
                problems.append(f"{path}: type narrowed to {sorted(new_types)}")
            else:
                lost = old_types - new_types
                if "number" in new_types:
                    lost.discard("integer")
                if lost:
                    # A changed type says it all; its other keywords would only repeat it.
                    return [f"{path}: type changed from {sorted(old_types)} to {sorted(new_types)}"]

        new_values = _values(new)
        if new_values is not None:
            old_values = _values(old)
            if old_values is None:
                problems.append(f"{path}: now restricted to {new_values}")
            else:
                lost_values = [value for value in old_values if value not in new_values]
                if lost_values:
                    what = "const changed" if "const" in new else "enum values removed"
                    problems.append(f"{path}: {what}: {lost_values} no longer accepted")
                added = [value for value in new_values if value not in old_values]
                untolerated = [value for value in added if not _tolerated(new, value)]
                if untolerated:
                    problems.append(
                        f"{path}: values added that consumers not yet upgraded would refuse: "
                        f"{untolerated}"
                    )

        for key in _LOWER_BOUNDS:
            if key in new and (key not in old or new[key] > old[key]):
                problems.append(f"{path}: {key} raised to {new[key]}")
        for key in _UPPER_BOUNDS:
            if key in new and (key not in old or new[key] < old[key]):
                problems.append(f"{path}: {key} lowered to {new[key]}")
        for key in _EXACT:
            if key in new and new[key] != old.get(key):
                problems.append(f"{path}: {key} changed from {old.get(key)!r} to {new[key]!r}")

        problems += self._compare_objects(old, new, path, depth)

        if "items" in new:
            if "items" in old:
                problems += self.problems_at(old["items"], new["items"], f"{path}[]", depth + 1)
            elif _constraints(_resolve(new["items"], self.new_root)):
                problems.append(f"{path}[]: items now constrained")
        return problems

    def _compare_objects(
        self, old: dict[str, Any], new: dict[str, Any], path: str, depth: int
    ) -> list[str]:
        problems: list[str] = []
        old_properties: dict[str, Any] = old.get("properties", {})
        new_properties: dict[str, Any] = new.get("properties", {})
        for name, old_property in old_properties.items():
            if name not in new_properties:
                problems.append(f"{path}: property {name!r} removed")
            else:
                problems += self.problems_at(
                    old_property, new_properties[name], f"{path}.{name}", depth + 1
                )
        for name in sorted(set(new.get("required", ())) - set(old.get("required", ()))):
            problems.append(f"{path}: property {name!r} newly required")

        old_additional = old.get("additionalProperties", True)
        new_additional = new.get("additionalProperties", True)
        if new_additional is False and old_additional is not False:
            problems.append(f"{path}: additional properties no longer allowed")
        elif isinstance(new_additional, dict) and new_additional:
            problems += self.problems_at(old_additional, new_additional, f"{path}.*", depth + 1)
        return problems


def _tolerated(schema: dict[str, Any], value: Any) -> bool:
    """True if a consumer not knowing `value` keeps it (see contact_common.events.Vocabulary)."""
    return (
        schema.get("x-extensible") is True
        and isinstance(value, str)
        and UNKNOWN_VALUE.fullmatch(value) is not None
    )


def _resolve(node: Any, root: dict[str, Any]) -> Any:
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#") or ref in seen:
            break
        seen.add(ref)
        target: Any = root
        for token in filter(None, ref[1:].split("/")):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        node = _merge(target, _without(node, "$ref"))
    if isinstance(node, dict) and isinstance(node.get("allOf"), list):
        merged = _without(node, "allOf")
        for part in node["allOf"]:
            merged = _merge(merged, _resolve(part, root))
        node = merged
    return node


def _merge(base: Any, extra: dict[str, Any]) -> Any:
    if not isinstance(base, dict):
        return base
    return {**base, **extra}


def _without(node: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in node.items() if key not in keys}


def _constraints(node: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in node.items() if key not in _ANNOTATIONS}


def _types(node: dict[str, Any]) -> set[str] | None:
    declared = node.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return set(declared)
    values = _values(node)
    if values is not None:
        return {_json_type(value) for value in values}
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _values(node: dict[str, Any]) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    if "enum" in node:
        return list(node["enum"])
    return None


def _unique(problems: list[str]) -> list[str]:
    return list(dict.fromkeys(problems))
