"""CPython's C unpickler as an oracle, safe on hostile input: nothing is imported or called.

Reads a JSON list of base64 pickles on stdin; prints one JSON object per pickle, for the C
unpickler ("c") and the pure-Python one ("py", which joblib and dill use): the events the
unpickler produced (find_class, calls, cls.__new__, extension codes, persistent ids, in order),
whether it reached STOP, and where it ended. It reads from a file object (`pickle.load(f)`, as
torch.load, numpy.load and joblib do), so frames are read the way a file reader reads them. Runs under any Python 3.8+ (standard library only).

find_class returns a fresh recording class instead of importing; calling that class, an
instance of it, or its __new__ records an event and builds another recorder. Extension codes
1..65535 are registered in copyreg's inverted registry as ("__ext__", "<code>") so that EXT
resolves to a recording find_class too. persistent_load records and returns a recorder.
"""
import base64
import copyreg
import io
import json
import pickle
import resource
import sys

EVENTS = []


class Meta(type):
    def __call__(cls, *args, **kwargs):
        EVENTS.append(["c"])
        return object.__new__(cls)

    def __setitem__(cls, key, value):
        pass


class Rec(metaclass=Meta):
    def __new__(cls, *args, **kwargs):
        EVENTS.append(["n"])
        return object.__new__(cls)

    def __call__(self, *args, **kwargs):
        EVENTS.append(["c"])
        return object.__new__(Rec)

    def __setitem__(self, key, value):
        pass

    def __setstate__(*args):
        pass

    def append(*args):
        pass

    def extend(*args):
        pass

    def add(*args):
        pass


def find_class(self, module, name):
    if module == "__ext__":
        EVENTS.append(["e", name])
    else:
        EVENTS.append(["g", module, name])
    return Meta("R", (Rec,), {})


def persistent_load(self, pid):
    EVENTS.append(["p"])
    return object.__new__(Rec)


# The C unpickler (pickle.load, torch.load) and the pure-Python one (joblib, dill).
Oracle = type("Oracle", (pickle.Unpickler,), {"find_class": find_class, "persistent_load": persistent_load})
PyOracle = type("PyOracle", (pickle._Unpickler,), {"find_class": find_class, "persistent_load": persistent_load})


def main():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    for code in range(1, 65536):
        copyreg._inverted_registry[code] = ("__ext__", str(code))
    streams = json.load(sys.stdin)
    out = []
    for encoded in streams:
        data = base64.b64decode(encoded)
        result = {}
        for key, unpickler in (("c", Oracle), ("py", PyOracle)):
            del EVENTS[:]
            copyreg._extension_cache.clear()  # each stream starts from a fresh cache
            stream = io.BytesIO(data)
            one = {"ok": False, "end": None, "error": None}
            try:
                unpickler(stream).load()
                one["ok"] = True
                one["end"] = stream.tell()
            except BaseException as error:  # noqa: B902 - hostile input raises anything
                one["error"] = type(error).__name__ + ": " + str(error)[:80]
            one["events"] = list(EVENTS)
            result[key] = one
        out.append(result)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
