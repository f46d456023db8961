"""Test helpers: read a checkpoint's structure without unpickling anything.

``pickle_tree`` replays a pickle's opcodes symbolically (via pickletools) into plain
nested values: a global is ``("global", "module name")``, a call is
``("call", func, args)``, a persistent id is ``("persid", pid)``, BUILD is
``("build", obj, state)``, dicts are ``("dict", [(key, value), ...])`` in order. The memo
is resolved, so two pickles that describe the same graph give equal trees even when
their memo indices differ.
"""
import pickletools
import struct
import zipfile

_PUSH_ARG = {"BININT", "BININT1", "BININT2", "LONG1", "LONG4", "BINFLOAT", "BINUNICODE", "SHORT_BINUNICODE",
             "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BINSTRING", "SHORT_BINSTRING"}


def pickle_tree(data: bytes):
    stack, marks, memo = [], [], {}

    def pop_mark():
        start = marks.pop()
        items = stack[start:]
        del stack[start:]
        return items

    for op, arg, _ in pickletools.genops(data):
        name = op.name
        if name in ("PROTO", "FRAME"):
            continue
        if name in _PUSH_ARG:
            stack.append(arg)
        elif name == "NONE":
            stack.append(None)
        elif name in ("NEWTRUE", "NEWFALSE"):
            stack.append(name == "NEWTRUE")
        elif name == "GLOBAL":
            stack.append(("global", arg))
        elif name == "STACK_GLOBAL":
            qual = stack.pop()
            stack.append(("global", f"{stack.pop()} {qual}"))
        elif name in ("BINPUT", "LONG_BINPUT"):
            memo[arg] = stack[-1]
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in ("BINGET", "LONG_BINGET"):
            stack.append(memo[arg])
        elif name == "MARK":
            marks.append(len(stack))
        elif name == "EMPTY_TUPLE":
            stack.append(())
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            items = tuple(stack[-n:])
            del stack[-n:]
            stack.append(items)
        elif name == "TUPLE":
            stack.append(tuple(pop_mark()))
        elif name == "EMPTY_LIST":
            stack.append(["list"])
        elif name == "APPEND":
            item = stack.pop()
            stack[-1].append(item)
        elif name == "APPENDS":
            items = pop_mark()
            stack[-1].extend(items)
        elif name == "EMPTY_DICT":
            stack.append(["dict"])
        elif name == "SETITEM":
            value = stack.pop()
            key = stack.pop()
            stack[-1].append((key, value))
        elif name == "SETITEMS":
            items = pop_mark()
            stack[-1].extend(zip(items[0::2], items[1::2]))
        elif name == "REDUCE":
            args = stack.pop()
            stack[-1] = ["call", stack[-1], args]
        elif name == "NEWOBJ":
            args = stack.pop()
            stack[-1] = ["new", stack[-1], args]
        elif name == "BUILD":
            state = stack.pop()
            stack[-1] = ["build", stack[-1], state]
        elif name == "BINPERSID":
            stack[-1] = ("persid", stack[-1])
        elif name == "STOP":
            break
        else:
            raise AssertionError(f"pickle_tree does not know opcode {name}")
    (result,) = stack
    return _freeze(result)


def _freeze(node):
    """Lists used as mutable builders become tuples (items appended after a memo PUT included)."""
    if isinstance(node, list):
        return tuple(_freeze(x) for x in node)
    if isinstance(node, tuple):
        return tuple(_freeze(x) for x in node)
    return node


def opcode_names(data: bytes) -> list:
    """The pickle's opcode names, without memo bookkeeping (PUT/GET differ with object identity)."""
    return [op.name for op, _, _ in pickletools.genops(data) if "PUT" not in op.name and op.name != "MEMOIZE"]


class Archive:
    """A checkpoint zip opened for inspection: record names without the folder, bytes, layout."""

    def __init__(self, source):
        self.zip = zipfile.ZipFile(source)
        self.infos = self.zip.infolist()
        self.prefix = self.infos[0].filename.split("/", 1)[0]
        self.raw = source.getvalue() if hasattr(source, "getvalue") else open(source, "rb").read()

    @property
    def names(self):
        return [i.filename[len(self.prefix) + 1:] for i in self.infos]

    def read(self, name):
        return self.zip.read(f"{self.prefix}/{name}")

    def data_offset(self, info):
        fields = struct.unpack("<IHHHHHIIIHH", self.raw[info.header_offset:info.header_offset + 30])
        return info.header_offset + 30 + fields[9] + fields[10]

    def local_header(self, info):
        return struct.unpack("<IHHHHHIIIHH", self.raw[info.header_offset:info.header_offset + 30])

    def local_extra(self, info):
        fields = self.local_header(info)
        start = info.header_offset + 30 + fields[9]
        return self.raw[start:start + fields[10]]
