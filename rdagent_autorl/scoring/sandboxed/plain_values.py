"""Plain Python values <-> JSON text, type-strict, for results that cross out of the code sandbox.

Why by hand: `json` loses tuples, sets and bytes; `ast.literal_eval` has no NaN; `pickle` and
`marshal` are unsafe on data an untrusted program wrote. Encoding accepts only the exact builtin
types (no subclasses: an `int` subclass with an always-true `__eq__` is refused), and decoding
builds only fresh builtin objects, so a value compared after the trip is one the program cannot
have shaped. Self-contained (standard library only): its source also runs inside the sandbox.
"""

import json

MAX_DEPTH = 64
# Containers travel as [tag, items]; scalars (None, bool, int, float, str) as themselves.
_TAGS = {list: "list", tuple: "tuple", set: "set", frozenset: "frozenset", dict: "dict", bytes: "bytes"}
_SCALARS = (type(None), bool, int, float, str)


class NotPlain(TypeError):
    """A value that is not made of builtin scalars and containers only."""


def _to_json(value, depth):
    kind = type(value)
    if kind in _SCALARS:
        return value
    if depth >= MAX_DEPTH:
        raise NotPlain(f"nested deeper than {MAX_DEPTH} levels")
    tag = _TAGS.get(kind)
    if tag is None:
        raise NotPlain(f"a value of type {kind.__name__} is not a plain value")
    if tag == "bytes":
        return [tag, value.hex()]
    if tag == "dict":
        return [tag, [[_to_json(k, depth + 1), _to_json(v, depth + 1)] for k, v in value.items()]]
    return [tag, [_to_json(v, depth + 1) for v in value]]


def _from_json(data, depth):
    if type(data) in _SCALARS:
        return data
    if depth >= MAX_DEPTH or type(data) is not list or len(data) != 2 or type(data[1]) not in (list, str):
        raise ValueError("malformed plain value")
    tag, items = data
    if tag == "bytes" and type(items) is str:
        return bytes.fromhex(items)
    if type(items) is not list:
        raise ValueError("malformed plain value")
    if tag == "dict":
        if any(type(pair) is not list or len(pair) != 2 for pair in items):
            raise ValueError("malformed plain value")
        return {_from_json(k, depth + 1): _from_json(v, depth + 1) for k, v in items}
    build = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}.get(tag)
    if build is None:
        raise ValueError(f"unknown plain value tag {tag!r}")
    return build(_from_json(v, depth + 1) for v in items)


def dumps(value) -> str:
    """JSON text of a plain value; NotPlain for anything else (NaN and infinities are kept)."""
    return json.dumps(_to_json(value, 0))


def loads(text: str):
    """The plain value `dumps` wrote; ValueError (or TypeError for unhashable keys) otherwise."""
    return _from_json(json.loads(text), 0)
