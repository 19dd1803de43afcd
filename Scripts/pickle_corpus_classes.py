"""Classes pickled by Scripts/make_pickle_corpus.py (an importable module so the pickles name
them ``pickle_corpus_classes.<Class>``).  The canonical JSON never imports or runs them: the
canonicalizer resolves every global to a symbolic stand-in."""


class Plain:
    """Default object pickling: NEWOBJ + BUILD(__dict__) at protocol 2+, copy_reg._reconstructor below."""

    def __init__(self, a=1, b="two"):
        self.a = a
        self.b = b


class WithReduce:
    """__reduce__ with all five parts: REDUCE, then APPENDS, SETITEMS and BUILD on the result."""

    def __init__(self, x):
        self.x = x

    def __reduce__(self):
        return (WithReduce, (self.x,), {"state_x": self.x}, iter([10, 20]), iter([("k1", "v1"), ("k2", "v2")]))


class WithReduceEx:
    """__reduce_ex__ that depends on the protocol."""

    def __init__(self, v):
        self.v = v

    def __reduce_ex__(self, protocol):
        return (WithReduceEx, (self.v, protocol))


class WithState:
    """__getstate__ / __setstate__ with a non-dict state."""

    def __init__(self, v):
        self.v = v

    def __getstate__(self):
        return ("state", self.v)

    def __setstate__(self, state):
        self.v = state[1]


class WithSlots:
    """__slots__ (and no __dict__): protocol 2+ state is (None, {slot: value}); protocols 0/1 refuse."""

    __slots__ = ("p", "q")

    def __init__(self, p, q):
        self.p = p
        self.q = q


class WithNewArgs:
    """__getnewargs__: NEWOBJ with arguments."""

    def __new__(cls, n, m):
        self = super().__new__(cls)
        self.n, self.m = n, m
        return self

    def __getnewargs__(self):
        return (self.n, self.m)


class WithNewArgsEx:
    """__getnewargs_ex__ with keyword arguments: NEWOBJ_EX at protocol 4+."""

    def __new__(cls, n, *, scale=1.0, name="x"):
        self = super().__new__(cls)
        self.n, self.scale, self.name = n, scale, name
        return self

    def __getnewargs_ex__(self):
        return ((self.n,), {"scale": self.scale, "name": self.name})


class Outer:
    """A nested class: its qualname is dotted (``Outer.Inner``)."""

    class Inner:
        def __init__(self):
            self.inner = True


class FakeStorage:
    """Stands in for ``torch.FloatStorage`` inside persistent ids."""


class StorageMarker:
    """Pickled through persistent_id (like a torch storage)."""

    def __init__(self, key, numel):
        self.key = key
        self.numel = numel


def _rebuild_tensor_v2(*args):  # a look-alike of torch._utils._rebuild_tensor_v2 (never called)
    raise RuntimeError("never called: the canonicalizer uses stand-ins")


class FakeTensor:
    """Reduces like a torch tensor: _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)."""

    def __init__(self, storage, size):
        self.storage = storage
        self.size = size

    def __reduce__(self):
        from collections import OrderedDict
        stride = tuple(1 for _ in self.size)
        return (_rebuild_tensor_v2, (self.storage, 0, self.size, stride, False, OrderedDict()))
