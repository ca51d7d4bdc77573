"""A codec that carries only plain data between the grader and a sandbox.

Values cross the boundary as a tree of tagged JSON nodes. Plain data (None, bool, int, float,
str, bytes, complex, list, tuple, dict, set, numpy arrays and scalars of numeric, bool or string
dtype, named tuples, numpy Generators by their state) is copied; an iterator or generator is
drained into a list (at most ``MAX_ITEMS`` items).

*Course values travel as the real thing* (fidelity: student code must receive exactly what a test
cell would pass it in a plain notebook): a function of gdlib or gdcheck or a numpy ufunc travels
by its name and is looked up on the other side; an instance of a gdlib class (a model, a
landscape), or of a gdcheck class that says ``travels_by_value = True`` (a recording test
function), travels by value, its class by name and its attributes as a tree, and is rebuilt as an
instance of that class; what a call changes in it comes back like any argument changed in place. Only modules of :data:`COURSE_PACKAGES` are ever looked up, so no other name can be
imported through the codec.

Anything else (a function, an object) travels as a *reference* that the other side can only call
or ask for an attribute. Conversion never
trusts an object's own methods: ``float.__float__``, ``dict.items`` etc. of the base type read a
subclass's real contents, so an object whose comparisons or conversions "always succeed" arrives
as whatever it really holds. The grader decodes with limits on depth, size and dtypes, so a
malicious payload raises :class:`ProtocolError` instead of exhausting the grader.

It runs on both sides (the sandbox gets a copy), so it imports only numpy and the standard library.
"""

from __future__ import annotations

import collections
import inspect
import keyword
import math
import sys
import time
import types

import numpy as np

from .protocol import ProtocolError

MAX_DEPTH = 100
MAX_NODES = 2_000_000
DECODE_SECONDS = 20.0  # CPU the grader spends reading one value, whatever the payload
MAX_ITEMS = 100_000
MAX_STRING = 16 << 20
SAFE_KINDS = set("biufcUSmM")
# Functions of these packages travel by name; instances of gdlib's classes, and of the classes of
# gdcheck that say ``travels_by_value = True``, travel by value.
COURSE_PACKAGES = ("gdlib", "gdcheck")


# -- course values, by name ---------------------------------------------------------------------

def _is_course_module(module) -> bool:
    if not isinstance(module, str) or len(module) > 200:
        return False
    parts = module.split(".")
    return parts[0] in COURSE_PACKAGES and all(p.isidentifier() and not p.startswith("__")
                                               for p in parts)


def lookup(module: str, qualname: str):
    """The object ``module.qualname`` of a course module, or None (nothing else is imported)."""
    parts = qualname.split(".") if isinstance(qualname, str) and len(qualname) <= 200 else []
    if not _is_course_module(module) or not parts or not all(
            p.isidentifier() and not p.startswith("__") for p in parts):
        return None
    import importlib
    try:
        obj = importlib.import_module(module)
    except ImportError:
        return None
    for part in parts:
        obj = inspect.getattr_static(obj, part, None)
        if obj is None:
            return None
    return obj


def course_function(v) -> tuple[str, str] | None:
    """(module, qualname) of a gdlib function that its name finds again, else None."""
    if not isinstance(v, (types.FunctionType, types.BuiltinFunctionType)):
        return None
    module, qualname = getattr(v, "__module__", None), getattr(v, "__qualname__", None)
    if _is_course_module(module) and isinstance(qualname, str) and lookup(module, qualname) is v:
        return module, qualname
    return None


def gdlib_namedtuple(module: str, name: str, fields: tuple, *, load: bool = False):
    """This process's class for a named tuple of gdlib (``AdamState``), if the fields agree;
    with ``load``, its module is imported when it is not yet."""
    if not (module == "gdlib" or module.startswith("gdlib.")):
        return None
    cls = getattr(sys.modules.get(module), name, None)
    if cls is None and load:
        try:
            import importlib
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            return None
    if isinstance(cls, type) and issubclass(cls, tuple) and getattr(cls, "_fields", None) == fields:
        return cls
    return None


_COURSE_CLASSES: dict[type, tuple[type, tuple[str, str] | None]] = {}


def _course_class(cls) -> tuple[str, str] | None:
    """(module, qualname) of a course class whose instances can travel by value, else None.

    Remembered per class, by identity (a sandbox encodes the same classes hundreds of times per
    cell): what code in a sandbox may change later in a class there only changes what that
    sandbox sends, which the grader judges with its own classes."""
    try:
        known = _COURSE_CLASSES.get(cls)
    except TypeError:  # a class whose metaclass makes it unhashable
        return _find_course_class(cls)
    if known is not None and known[0] is cls:
        return known[1]
    found = _find_course_class(cls)
    try:
        _COURSE_CLASSES[cls] = (cls, found)
    except TypeError:
        pass
    return found


def _find_course_class(cls) -> tuple[str, str] | None:
    module, qualname = getattr(cls, "__module__", None), getattr(cls, "__qualname__", None)
    if not (_is_course_module(module) and isinstance(qualname, str)):
        return None
    if module.split(".")[0] != "gdlib" and cls.__dict__.get("travels_by_value") is not True:
        return None
    if issubclass(cls, (tuple, type, BaseException)) or "__slots__" in cls.__dict__:
        return None
    if cls.__dictoffset__ == 0 or lookup(module, qualname) is not cls:
        return None
    return module, qualname


# -- references ---------------------------------------------------------------------------------

class RefTable:
    """Local objects the other side holds references to, by integer id."""

    def __init__(self):
        self.objects: dict[int, object] = {}
        self._ids: dict[int, int] = {}

    def add(self, obj) -> int:
        key = id(obj)
        if key in self._ids and self.objects.get(self._ids[key]) is obj:
            return self._ids[key]
        ref = len(self.objects) + 1
        self.objects[ref] = obj
        self._ids[key] = ref
        return ref

    def get(self, ref) -> object:
        if not isinstance(ref, int) or ref not in self.objects:
            raise ProtocolError(f"unknown reference {ref!r}")
        return self.objects[ref]


def _qualname(obj) -> str:
    value = getattr(type(obj), "__qualname__", None)
    return value if isinstance(value, str) else type(obj).__name__


def describe(obj) -> dict:
    """What the other side learns about a referenced object: names and signature, as data."""
    meta = {"callable": callable(obj), "type": _qualname(obj)}
    for attr in ("__name__", "__qualname__", "__module__"):
        try:
            value = getattr(obj, attr, None)
        except Exception:
            value = None
        if isinstance(value, str):
            meta[attr.strip("_")] = str.__str__(value)[:200]
    return meta


# -- the codec ----------------------------------------------------------------------------------

def _safe_dtype(dtype: np.dtype) -> bool:
    """Numbers, booleans, strings, dates: no objects, records or sub-arrays."""
    return dtype.kind in SAFE_KINDS and dtype.fields is None and dtype.shape == ()


def _is_namedtuple_type(cls) -> bool:
    fields = cls.__dict__.get("_fields", None) if isinstance(cls, type) else None
    if fields is None:
        fields = getattr(cls, "_fields", None)
    return isinstance(fields, tuple) and all(type(f) is str for f in fields)


class Codec:
    """Encode values to (tree, blobs) and back.

    ``refs`` holds this side's objects that the other side references; ``remote(meta, ref)``
    builds a proxy for the other side's objects; ``own(obj)`` returns the ref id if ``obj`` is a
    proxy of the other side's object (so it travels back as itself), else None.
    Both sides decode alike and never unpickle: a tree holds only plain values, raw array bytes
    of safe dtypes, named tuples (the class ``resolve_namedtuple`` returns, else a new
    ``collections.namedtuple``) and references.
    """

    def __init__(self, refs: RefTable, remote, own=lambda obj: None, *, resolve_namedtuple=None,
                 max_bytes: int = 1 << 30, drain_iterators: bool = True, signatures: bool = False):
        self.refs, self.remote, self.own = refs, remote, own
        self.signatures = signatures
        self.resolve_namedtuple = resolve_namedtuple or (lambda module, name, fields: None)
        self.max_bytes = max_bytes
        self.drain_iterators = drain_iterators
        self._namedtuples: dict[tuple, type] = {}

    # encoding -------------------------------------------------------------------------------

    def encode(self, value, blobs: list[bytes] | None = None) -> tuple[object, list[bytes]]:
        """(tree, blobs); pass ``blobs`` to append to the blobs of an earlier encoding."""
        blobs = [] if blobs is None else blobs
        state = {"nodes": 0, "bytes": sum(len(b) for b in blobs)}
        return self._enc(value, blobs, state, 0), blobs

    def _blob(self, data: bytes, blobs, state) -> int:
        state["bytes"] += len(data)
        if state["bytes"] > self.max_bytes:
            raise ValueError(f"the value is too large to grade (more than {self.max_bytes >> 20} MB)")
        blobs.append(data)
        return len(blobs) - 1

    def _array(self, tag: str, array: np.ndarray, blobs, state) -> dict:
        """An array as its dtype, shape and raw C-order bytes (never a pickle)."""
        return {"t": tag, "dtype": array.dtype.str, "shape": list(array.shape),
                "i": self._blob(array.tobytes(order="C"), blobs, state)}

    def _enc(self, v, blobs, state, depth):
        state["nodes"] += 1
        if depth > MAX_DEPTH or state["nodes"] > MAX_NODES:
            raise ValueError("the value is nested too deeply or holds too many items to grade")
        t = type(v)
        if v is None or t is bool:
            return v
        if t is int:
            return v if abs(v) < (1 << 63) else {"t": "bigint", "v": str(v)}
        if t is float:
            return v if math.isfinite(v) else {"t": "float", "v": repr(v)}
        if t is str:
            if len(v) > MAX_STRING:
                raise ValueError("a string in the value is too long to grade")
            return v
        ref = self.own(v)
        if ref is not None:
            return {"t": "own", "id": ref}
        if isinstance(v, np.ndarray):
            array = np.ndarray.view(v, np.ndarray)
            if _safe_dtype(array.dtype):
                return self._array("nd", array, blobs, state)
            return self._ref(v, blobs, state, depth)
        if isinstance(v, np.generic):
            array = np.asarray(v)
            if _safe_dtype(array.dtype):
                return self._array("npscalar", array, blobs, state)
            return self._ref(v, blobs, state, depth)
        if isinstance(v, bool):
            return bool(int.__int__(v))
        if isinstance(v, int):
            return self._enc(int.__int__(v), blobs, state, depth)
        if isinstance(v, float):
            return self._enc(float.__float__(v), blobs, state, depth)
        if isinstance(v, str):
            return str.__str__(v)
        if isinstance(v, complex):
            c = complex.__complex__(v)
            return {"t": "complex", "v": [self._enc(c.real, blobs, state, depth),
                                           self._enc(c.imag, blobs, state, depth)]}
        if isinstance(v, (bytes, bytearray)):
            return {"t": "bytes", "i": self._blob(bytes(v), blobs, state)}
        if isinstance(v, tuple):
            items = [self._enc(x, blobs, state, depth + 1) for x in tuple.__iter__(v)]
            cls = type(v)
            if cls is not tuple and _is_namedtuple_type(cls):
                fields = [str(f) for f in cls._fields]
                if len(fields) == len(items):
                    return {"t": "nt", "module": str(getattr(cls, "__module__", "") or ""),
                            "name": str(cls.__name__), "fields": fields, "v": items}
            return {"t": "tuple", "v": items}
        if isinstance(v, list):
            return {"t": "list", "v": [self._enc(x, blobs, state, depth + 1) for x in list.__iter__(v)]}
        if isinstance(v, dict):
            return {"t": "dict", "v": [[self._enc(k, blobs, state, depth + 1),
                                        self._enc(x, blobs, state, depth + 1)]
                                       for k, x in dict.items(v)]}
        if isinstance(v, (set, frozenset)):
            tag = "frozenset" if isinstance(v, frozenset) else "set"
            return {"t": tag, "v": [self._enc(x, blobs, state, depth + 1) for x in frozenset(v)]}
        if isinstance(v, np.dtype):
            return {"t": "dtype", "v": v.str if v.fields is None else "O"}
        if isinstance(v, type) and issubclass(v, np.generic) and v is not np.generic:
            return {"t": "dtype_type", "v": np.dtype(v).str}
        if isinstance(v, np.random.Generator):
            bit_generator = v.bit_generator
            return {"t": "rng", "bg": type(bit_generator).__name__,
                    "state": self._enc(bit_generator.state, blobs, state, depth + 1)}
        if isinstance(v, slice):
            return {"t": "slice", "v": [self._enc(x, blobs, state, depth + 1)
                                        for x in (v.start, v.stop, v.step)]}
        if v is Ellipsis:
            return {"t": "ellipsis"}
        named = course_function(v)
        if named is not None:
            return {"t": "fn", "module": named[0], "name": named[1]}
        if isinstance(v, np.ufunc) and getattr(np, v.__name__, None) is v:
            return {"t": "ufunc", "name": v.__name__}
        course_class = _course_class(t)
        if course_class is not None:
            attributes = dict(object.__getattribute__(v, "__dict__"))
            return {"t": "obj", "module": course_class[0], "name": course_class[1],
                    "v": self._enc(attributes, blobs, state, depth + 1)}
        if self.drain_iterators and (isinstance(v, types.GeneratorType) or (
                hasattr(t, "__next__") and hasattr(t, "__iter__") and not callable(v))):
            items = []
            for item in v:
                if len(items) >= MAX_ITEMS:
                    raise ValueError(f"the iterator yields more than {MAX_ITEMS} items")
                items.append(self._enc(item, blobs, state, depth + 1))
            return {"t": "iter", "v": items}
        if not callable(v) and (hasattr(t, "__array__") or hasattr(t, "__array_interface__")):
            try:
                array = np.asarray(v)
            except Exception:
                array = None
            if array is not None and _safe_dtype(array.dtype):
                return self._array("nd", array, blobs, state)
        return self._ref(v, blobs, state, depth)

    def _ref(self, v, blobs, state, depth):
        meta = describe(v)
        meta.update({"t": "ref", "id": self.refs.add(v)})
        if self.signatures and meta["callable"] and depth < MAX_DEPTH - 2:
            try:
                parameters = list(inspect.signature(v).parameters.values())
            except Exception:
                parameters = None
            if parameters is not None:
                meta["signature"] = [
                    {"name": str(p.name), "kind": int(p.kind)} if p.default is p.empty else
                    {"name": str(p.name), "kind": int(p.kind),
                     "default": self._enc(p.default, blobs, state, depth + 2)}
                    for p in parameters[:100]]
        return meta

    # decoding -------------------------------------------------------------------------------

    def decode(self, tree, blobs: list[bytes]):
        """The value ``tree`` describes, within a budget of nodes and time (DECODE_SECONDS), so
        that a payload crafted to be costly to read raises ProtocolError instead."""
        self._budget = [MAX_NODES, time.monotonic() + DECODE_SECONDS]
        return self._dec(tree, blobs, 0)

    def _spend(self) -> None:
        budget = getattr(self, "_budget", None)
        if budget is None:
            return
        budget[0] -= 1
        if budget[0] < 0:
            raise ProtocolError(f"the value holds more than {MAX_NODES} items")
        if budget[0] % 4096 == 0 and time.monotonic() > budget[1]:
            raise ProtocolError(f"the value took more than {DECODE_SECONDS:g} s to read")

    def _raw(self, index, blobs) -> bytes:
        if type(index) is not int or not 0 <= index < len(blobs):
            raise ProtocolError(f"bad blob index {index!r}")
        return blobs[index]

    def _load(self, node, blobs) -> np.ndarray:
        data = self._raw(node.get("i"), blobs)
        shape = node.get("shape")
        try:
            dtype = np.dtype(str(node.get("dtype")))
        except TypeError:
            raise ProtocolError(f"bad dtype {str(node.get('dtype'))[:40]!r}") from None
        if not _safe_dtype(dtype):
            raise ProtocolError("an array of an unsupported dtype")
        if not (isinstance(shape, list) and len(shape) <= 32
                and all(type(n) is int and 0 <= n < 1 << 40 for n in shape)):
            raise ProtocolError("bad array shape")
        if math.prod(shape) * dtype.itemsize != len(data):
            raise ProtocolError("the array's data does not match its shape and dtype")
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()

    def _list(self, node, blobs, depth) -> list:
        items = node.get("v")
        if not isinstance(items, list):
            raise ProtocolError("a container node without a list of items")
        return [self._dec(x, blobs, depth + 1) for x in items]

    def _dec(self, node, blobs, depth):
        self._spend()
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if node is None or type(node) in (bool, int, float, str):
            return node
        if not isinstance(node, dict) or not isinstance(node.get("t"), str):
            raise ProtocolError(f"unknown node {str(node)[:80]}")
        tag = node["t"]
        if tag == "nd":
            return self._load(node, blobs)
        if tag == "npscalar":
            array = self._load(node, blobs)
            if array.ndim != 0:
                raise ProtocolError("a numpy scalar must be 0-dimensional")
            return array[()]
        if tag == "list":
            return self._list(node, blobs, depth)
        if tag == "tuple":
            return tuple(self._list(node, blobs, depth))
        if tag == "iter":
            return iter(self._list(node, blobs, depth))
        if tag in ("set", "frozenset"):
            items = self._list(node, blobs, depth)
            try:
                return set(items) if tag == "set" else frozenset(items)
            except TypeError as exc:
                raise ProtocolError(f"unhashable set item: {exc}") from None
        if tag == "dict":
            pairs = node.get("v")
            if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise ProtocolError("a dict node needs [key, value] pairs")
            try:
                return {self._dec(k, blobs, depth + 1): self._dec(v, blobs, depth + 1) for k, v in pairs}
            except TypeError as exc:
                raise ProtocolError(f"unhashable dict key: {exc}") from None
        if tag == "nt":
            return self._namedtuple(node, self._list(node, blobs, depth))
        if tag == "bigint":
            try:
                return int(str(node.get("v"))[:5000])
            except ValueError:
                raise ProtocolError("bad integer") from None
        if tag == "float":
            if node.get("v") not in ("nan", "inf", "-inf"):
                raise ProtocolError("bad float")
            return float(node["v"])
        if tag == "complex":
            re_, im = self._list(node, blobs, depth)
            if type(re_) is not float or type(im) is not float:
                raise ProtocolError("bad complex")
            return complex(re_, im)
        if tag == "bytes":
            return bytes(self._raw(node.get("i"), blobs))
        if tag == "dtype":
            return self._dtype(node)
        if tag == "dtype_type":
            return self._dtype(node).type
        if tag == "rng":
            return self._rng(node, blobs, depth)
        if tag == "slice":
            return slice(*self._list(node, blobs, depth))
        if tag == "ellipsis":
            return Ellipsis
        if tag == "fn":
            fn = lookup(node.get("module"), node.get("name"))
            if not (isinstance(fn, (types.FunctionType, types.BuiltinFunctionType))
                    and not isinstance(fn, type)):
                raise ProtocolError("unknown course function")
            return fn
        if tag == "ufunc":
            fn = getattr(np, str(node.get("name")), None)
            if not isinstance(fn, np.ufunc):
                raise ProtocolError("unknown numpy ufunc")
            return fn
        if tag == "obj":
            return self._course_object(node, blobs, depth)
        if tag == "own":
            return self.refs.get(node.get("id"))
        if tag == "ref":
            if type(node.get("id")) is not int:
                raise ProtocolError("bad reference id")
            meta = {k: node[k] for k in ("callable", "type", "name", "qualname", "module")
                    if k in node and type(node[k]) in (str, bool)}
            if isinstance(node.get("signature"), list):
                meta["signature"] = self._signature(node["signature"], blobs, depth)
            return self.remote(meta, node["id"])
        raise ProtocolError(f"unknown node type {tag!r}")

    def _signature(self, params: list, blobs, depth) -> inspect.Signature | None:
        try:
            return inspect.Signature([
                inspect.Parameter(p["name"], inspect._ParameterKind(p["kind"]))
                if "default" not in p else
                inspect.Parameter(p["name"], inspect._ParameterKind(p["kind"]),
                                  default=self._dec(p["default"], blobs, depth + 2))
                for p in params[:100]])
        except (TypeError, ValueError, KeyError):
            return None

    def _course_object(self, node, blobs, depth):
        cls = lookup(node.get("module"), node.get("name"))
        if not (isinstance(cls, type) and _course_class(cls) is not None):
            raise ProtocolError("unknown course class")
        attributes = self._dec(node.get("v"), blobs, depth + 1)
        if not (isinstance(attributes, dict) and all(type(k) is str for k in attributes)):
            raise ProtocolError("a course object's attributes must be a dict of names")
        obj = object.__new__(cls)
        object.__getattribute__(obj, "__dict__").update(attributes)
        return obj

    def _dtype(self, node) -> np.dtype:
        try:
            dtype = np.dtype(str(node.get("v")))
        except TypeError:
            raise ProtocolError("bad dtype") from None
        if not _safe_dtype(dtype):
            raise ProtocolError("unsupported dtype")
        return dtype

    def _rng(self, node, blobs, depth) -> np.random.Generator:
        name = node.get("bg")
        if name not in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"):
            raise ProtocolError(f"unsupported bit generator {name!r}")
        bit_generator = getattr(np.random, name)()
        try:
            bit_generator.state = self._dec(node.get("state"), blobs, depth + 1)
        except (TypeError, ValueError, KeyError) as exc:
            raise ProtocolError(f"bad generator state: {exc}") from None
        return np.random.Generator(bit_generator)

    def _namedtuple(self, node, items: list):
        name, module, fields = node.get("name"), node.get("module"), node.get("fields")
        if not (isinstance(name, str) and isinstance(module, str) and isinstance(fields, list)
                and len(fields) == len(items) and all(isinstance(f, str) for f in fields)):
            raise ProtocolError("bad named tuple")
        known = self.resolve_namedtuple(module, name, tuple(fields))
        if known is not None:
            return tuple.__new__(known, items)
        valid = name.isidentifier() and not keyword.iskeyword(name) and len(fields) < 256 and \
            all(f.isidentifier() and not keyword.iskeyword(f) and not f.startswith("_") for f in fields)
        if not valid:
            return tuple(items)
        key = (name, tuple(fields))
        if key not in self._namedtuples:
            self._namedtuples[key] = collections.namedtuple(name, fields)
        return tuple.__new__(self._namedtuples[key], items)


# -- arguments changed in place -----------------------------------------------------------------

def holds_mutable(value) -> bool:
    """Whether a call could change ``value`` in place (so the other side must mirror it)."""
    if isinstance(value, tuple):
        return any(holds_mutable(v) for v in tuple.__iter__(value))
    return (isinstance(value, (np.ndarray, list, dict, set, np.random.Generator))
            or _course_class(type(value)) is not None)


class InPlace:
    """Fingerprints of a call's arguments, to report the ones the call changed in place.

    ``snap`` must be a Codec that does not drain iterators (a fingerprint must not consume an
    iterator the call has yet to read).
    """

    def __init__(self, snap: Codec, args, kwargs):
        self.snap = snap
        self.args, self.kwargs = args, kwargs
        self.before = [self._fingerprint(a) for a in args]
        self.before_kw = {k: self._fingerprint(v) for k, v in kwargs.items()}

    def _fingerprint(self, value) -> str | None:
        if not holds_mutable(value):
            return None
        try:
            return fingerprint(*self.snap.encode(value))
        except Exception:
            return None

    def changed(self, blobs: list[bytes]) -> list:
        """[[kind, key, tree], ...] for the arguments that changed, their data added to ``blobs``."""
        out = []
        where = [("arg", i, a, self.before[i]) for i, a in enumerate(self.args)]
        where += [("kwarg", k, v, self.before_kw[k]) for k, v in self.kwargs.items()]
        for kind, key, value, before in where:
            if before is None or self._fingerprint(value) == before:
                continue
            try:
                tree, _ = self.snap.encode(value, blobs)
            except Exception:
                continue
            out.append([kind, key, tree])
        return out


def apply_changes(changed, args, kwargs, decode) -> None:
    """Mirror the in-place changes the other side reported (``InPlace.changed``) on our arguments."""
    for entry in changed or []:
        if not (isinstance(entry, list) and len(entry) == 3):
            continue
        kind, key, subtree = entry
        if kind == "arg" and type(key) is int and 0 <= key < len(args):
            write_back(args[key], decode(subtree))
        elif kind == "kwarg" and isinstance(key, str) and key in kwargs:
            write_back(kwargs[key], decode(subtree))


def write_back(target, new) -> object:
    """Make ``target`` hold ``new`` in place where possible; return what should replace it."""
    if isinstance(target, np.ndarray) and isinstance(new, np.ndarray):
        if target.shape == new.shape and target.flags.writeable:
            try:
                np.copyto(target, new, casting="unsafe")
                return target
            except (TypeError, ValueError):
                return new
        return new
    if isinstance(target, np.random.Generator) and isinstance(new, np.random.Generator):
        if type(target.bit_generator) is type(new.bit_generator):
            target.bit_generator.state = new.bit_generator.state
        return target
    if type(target) is type(new) and _course_class(type(target)) is not None:
        write_back(object.__getattribute__(target, "__dict__"), object.__getattribute__(new, "__dict__"))
        return target
    if isinstance(target, dict) and isinstance(new, dict):
        for key in [k for k in target if k not in new]:
            del target[key]
        for key, value in new.items():
            target[key] = write_back(target[key], value) if key in target else value
        return target
    if isinstance(target, list) and isinstance(new, list):
        if len(target) == len(new):
            for i, value in enumerate(new):
                target[i] = write_back(target[i], value)
        else:
            target[:] = new
        return target
    if isinstance(target, tuple) and isinstance(new, tuple) and len(target) == len(new):
        for old, value in zip(target, new):
            write_back(old, value)
        return target
    if isinstance(target, set) and isinstance(new, set):
        target.clear()
        target.update(new)
        return target
    return new


# -- exceptions ---------------------------------------------------------------------------------

def encode_exception(exc: BaseException, frame: dict | None = None) -> dict:
    """An exception as data: its type name, message and (optionally) the student's last frame."""
    try:
        message = str(exc)
    except Exception:
        message = "<the exception's message could not be read>"
    cls = type(exc)
    return {"type": str(getattr(cls, "__name__", "Exception"))[:100],
            "module": str(getattr(cls, "__module__", "") or "")[:100],
            "base": "Exception" if isinstance(exc, Exception) else "BaseException",
            "message": message[:4000], "frame": frame}


def student_frame(tb, library_dirs: tuple[str, ...]) -> dict | None:
    """The last traceback frame outside ``library_dirs`` (the student's line), as data."""
    import linecache
    import traceback
    last = None
    for entry in traceback.extract_tb(tb):
        if entry.filename.startswith(library_dirs) or entry.filename == "<string>":
            continue
        last = entry
    if last is None:
        return None
    line = last.line or linecache.getline(last.filename, last.lineno or 0).strip()
    return {"name": str(last.name)[:200], "lineno": int(last.lineno or 0), "line": str(line)[:500]}


def default_library_dirs() -> tuple[str, ...]:
    import os
    import sysconfig
    dirs = {sys.prefix, sys.base_prefix, os.path.dirname(np.__file__), sysconfig.get_paths()["stdlib"],
            sysconfig.get_paths()["purelib"], os.path.dirname(os.path.abspath(__file__))}
    return tuple(sorted(d for d in dirs if d))


def fingerprint(tree, blobs: list[bytes]) -> str:
    """A string equal for two encodings of equal values, and only for those: the tree (plain
    JSON data, built in the same order for equal values, its blob indices numbered in that order
    too) and a digest of each blob."""
    import hashlib
    return repr(tree) + "|" + ",".join(hashlib.sha1(blob).hexdigest() for blob in blobs)
