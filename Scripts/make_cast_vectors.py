#!/usr/bin/env python
"""Write the dtype-conversion vectors under Tests/Fixtures/cast/ (run with the torch venv):

    /root/.cache/ptview/venv/bin/python Scripts/make_cast_vectors.py

Every expected byte comes from real PyTorch on this machine's CPU:
`torch.from_numpy(bits).view(source_dtype).to(target_dtype)`, read back as raw bytes.
Big-endian vectors are torch's little-endian bytes swapped here, element by element.
PTViewValuesTests (Tests/PTViewValuesTests) converts each input with FloatCast and compares
the bytes exactly.

Inputs come in three kinds, named in manifest.json:
  "input_file"             raw source elements in the vector's byte order
  "input_generator": "all" every bit pattern of a 16-bit format, 0x0000 up to 0xFFFF
  "input_generator": "splitmix64-float32" / "splitmix64-float64" with a "seed"
                           a long vector whose elements the test rebuilds with the same recipe
                           (`splitmix_float32` / `splitmix_float64` below), so only the expected
                           output is stored

Paths inside torch: contiguous CPU copies run a vectorized loop over blocks and a scalar loop
over a tail, and the two disagree about NaN for float64 -> bfloat16 (0xFFFF against 0x7FC0).
ptview follows the vectorized path, so every tensor given to torch here is padded to a multiple
of 64 elements and converted on one thread (no split into per-thread tails). The differences
that were measured, and that the vectors rely on, are recorded under "observations".

Everything is seeded: running the script twice gives byte-identical files.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

sys.dont_write_bytecode = True

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "Tests", "Fixtures", "cast")

DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float8_e4m3fn": torch.float8_e4m3fn,
    "float8_e5m2": torch.float8_e5m2,
    "float8_e4m3fnuz": torch.float8_e4m3fnuz,
    "float8_e5m2fnuz": torch.float8_e5m2fnuz,
    "float8_e8m0fnu": torch.float8_e8m0fnu,
}
WIDTH = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2}
WIDTH.update({name: 1 for name in DTYPES if name.startswith("float8")})
UINT = {8: np.uint64, 4: np.uint32, 2: np.uint16, 1: np.uint8}
SINT = {8: (np.int64, torch.int64), 4: (np.int32, torch.int32), 2: (np.int16, torch.int16),
        1: (np.uint8, torch.uint8)}
TARGETS = ["float64", "float32", "float16", "bfloat16"]
SHORT = {"float64": "f64", "float32": "f32", "float16": "f16", "bfloat16": "bf16",
         "float8_e4m3fn": "e4m3fn", "float8_e5m2": "e5m2", "float8_e4m3fnuz": "e4m3fnuz",
         "float8_e5m2fnuz": "e5m2fnuz", "float8_e8m0fnu": "e8m0fnu"}
PAD = 64  # torch's widest vectorized block here is 16 elements; 64 leaves no scalar tail

VECTORS: list[dict] = []
FILES: set[str] = set()
MASK64 = (1 << 64) - 1


# ---------------------------------------------------------------------------------------------
# torch


def torch_convert(bits: np.ndarray, source: str, target: str) -> np.ndarray:
    """torch's `.to(target)` of the source elements `bits` (unsigned ints), as unsigned ints."""
    count = len(bits)
    padded = np.zeros(-(-count // PAD) * PAD, dtype=bits.dtype)
    padded[:count] = bits
    np_int, _ = SINT[WIDTH[source]]
    t = torch.from_numpy(padded.view(np_int)).view(DTYPES[source])
    _, torch_int = SINT[WIDTH[target]]
    out = t.to(DTYPES[target]).view(torch_int).numpy().view(UINT[WIDTH[target]])
    return out[:count].copy()


def torch_convert_plain(bits: np.ndarray, source: str, target: str) -> np.ndarray:
    """The same without padding (the tensor exactly as long as `bits`)."""
    np_int, _ = SINT[WIDTH[source]]
    t = torch.from_numpy(np.ascontiguousarray(bits).view(np_int)).view(DTYPES[source])
    _, torch_int = SINT[WIDTH[target]]
    return t.to(DTYPES[target]).view(torch_int).numpy().view(UINT[WIDTH[target]]).copy()


# ---------------------------------------------------------------------------------------------
# files and the manifest


def raw(bits: np.ndarray, byteorder: str) -> bytes:
    return (bits.byteswap() if byteorder == "big" else bits).tobytes()


def write(name: str, data: bytes) -> str:
    assert name not in FILES, name
    FILES.add(name)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    return name


def add_vector(name, source, target, bits, byteorder, *, input_file=None, generator=None,
               seed=None, expected=None):
    """Converts with torch, writes the expected bytes and records the vector."""
    if expected is None:
        expected = torch_convert(bits, source, target)
    order = "be" if byteorder == "big" else "le"
    row = {"name": f"{name} -> {target} ({byteorder}-endian)", "from": source, "to": target,
           "count": int(len(bits)), "byteorder": byteorder}
    if input_file is not None:
        row["input_file"] = input_file
    if generator is not None:
        row["input_generator"] = generator
    if seed is not None:
        row["seed"] = seed
    row["expected_file"] = write(f"{name}.to-{SHORT[target]}.{order}.bin", raw(expected, byteorder))
    VECTORS.append(row)
    return expected


# ---------------------------------------------------------------------------------------------
# inputs


def bits_of(values, dtype) -> np.ndarray:
    return np.array(values, dtype=dtype).view(UINT[np.dtype(dtype).itemsize])


def splitmix64(seed: int):
    """The splitmix64 generator (Steele, Lea, Flood 2014); the Swift test has the same one."""
    state = seed & MASK64
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        yield z ^ (z >> 31)


def splitmix_float32(seed: int, count: int) -> np.ndarray:
    """float32 bit patterns: 5/8 with exponents 2^-30..2^33 (half's whole range, its subnormals,
    underflow and overflow), 1/8 inf or NaN with random payloads, 1/8 subnormal, 1/8 raw bits."""
    gen = splitmix64(seed)
    out = np.empty(count, dtype=np.uint32)
    for i in range(count):
        r = next(gen)
        bits = r & 0xFFFFFFFF
        sel = (r >> 32) & 7
        if sel < 7:
            exp = 97 + ((r >> 35) & 63) if sel < 5 else (0xFF if sel == 5 else 0)
            bits = (bits & 0x807FFFFF) | (exp << 23)
        out[i] = bits
    return out


def splitmix_float64(seed: int, count: int) -> np.ndarray:
    """float64 bit patterns from two draws each: 5/8 with exponents 2^-30..2^33, 1/8 inf or NaN
    with random payloads, 1/8 with exponents 2^-160..2^351 (float32's subnormals and overflow),
    1/8 raw bits."""
    gen = splitmix64(seed)
    out = np.empty(count, dtype=np.uint64)
    for i in range(count):
        bits = next(gen)
        s = next(gen)
        sel = s & 7
        if sel < 7:
            if sel < 5:
                exp = 1023 - 30 + ((s >> 3) & 63)
            elif sel == 5:
                exp = 0x7FF
            else:
                exp = 1023 - 160 + ((s >> 3) & 511)
            bits = (bits & 0x800FFFFFFFFFFFFF) | (exp << 52)
        out[i] = bits
    return out


def value_of(bits: int, fmt: str) -> float:
    """The value of a positive finite bit pattern, reading an all-ones exponent (infinity's
    pattern) as the next binade so that `value_of(max + 1)` is the overflow threshold's top."""
    exp_bits, man_bits, bias = {"float16": (5, 10, 15), "bfloat16": (8, 7, 127),
                                "float32": (8, 23, 127)}[fmt]
    e = bits >> man_bits
    m = bits & ((1 << man_bits) - 1)
    if e == 0:
        return m * 2.0 ** (1 - bias - man_bits)
    return (1 + m / 2.0**man_bits) * 2.0 ** (e - bias)


def halfway_points(fmt: str, rng) -> list[float]:
    """Values exactly halfway between neighbouring `fmt` values (even below and odd below, so
    ties go to even both ways), including 0 to the smallest subnormal, across the subnormal /
    normal boundary, and from the largest finite value to the overflow threshold."""
    top = {"float16": 0x7BFF, "bfloat16": 0x7F7F, "float32": 0x7F7FFFFF}[fmt]
    sub_top = {"float16": 0x3FF, "bfloat16": 0x7F, "float32": 0x7FFFFF}[fmt]
    one = {"float16": 0x3C00, "bfloat16": 0x3F80, "float32": 0x3F800000}[fmt]
    patterns = [0, 1, 2, 3, sub_top - 1, sub_top, sub_top + 1, sub_top + 2, one - 1, one, one + 1,
                one + 2, top - 2, top - 1, top]
    patterns += [int(p) for p in rng.integers(0, top, 24)]
    return [(value_of(p, fmt) + value_of(p + 1, fmt)) / 2 for p in patterns]


def neighbours(bits: np.ndarray, steps) -> np.ndarray:
    """Each pattern and its neighbours `steps` units in the last place either side."""
    out = [bits]
    for step in steps:
        out.append(bits + step)
        out.append(bits - step)
    return np.concatenate(out)


def nan_patterns32() -> list[int]:
    payloads = [0x400000, 0x000001, 0x200000, 0x3FFFFF, 0x400001, 0x7FFFFF, 0x412345, 0x012345,
                0x002000, 0x001FFF, 0x000100, 0x40FFFF, 0x010000, 0x7F0000, 0x00FFFF, 0x555555,
                0x2AAAAA]
    return [sign | 0x7F800000 | p for sign in (0, 0x80000000) for p in payloads]


def nan_patterns64() -> list[int]:
    payloads = [0x8000000000000, 0x0000000000001, 0x4000000000000, 0x7FFFFFFFFFFFF,
                0x8000000000001, 0xFFFFFFFFFFFFF, 0x8123456789ABC, 0x0000020000000,
                0x000001FFFFFFF, 0x0000000001000, 0x0000400000000, 0x0123456789ABC,
                0xAAAAAAAAAAAAA, 0x5555555555555, 0x0020000000000, 0x0010000000000]
    return [sign | 0x7FF0000000000000 | p for sign in (0, 1 << 63) for p in payloads]


def float32_specials(rng) -> np.ndarray:
    base = []
    for sign in (0, 0x80000000):
        base += [sign | b for b in (0, 0x7F800000, 1, 2, 0x007FFFFF, 0x00800000, 0x00800001,
                                    0x7F7FFFFF, 0x7F7FFFFE, 0x3F800000, 0x477FE000, 0x477FEFFF,
                                    0x477FF000, 0x47800000, 0x33000000, 0x33000001, 0x387FC000,
                                    0x38800000, 0x00008000, 0x00018000)]
    base += nan_patterns32()
    specials = np.array(base, dtype=np.uint32)
    halves = []
    for fmt in ("float16", "bfloat16"):
        points = halfway_points(fmt, rng)
        mids = bits_of(points, np.float32)
        assert (mids.view(np.float32).astype(np.float64) == np.array(points)).all()  # exact
        halves.append(neighbours(mids, (1, 2)))
    halves = np.concatenate(halves)
    halves = np.concatenate([halves, halves | np.uint32(0x80000000)])
    return np.concatenate([specials, halves])


def float64_specials(rng) -> np.ndarray:
    base = []
    for sign in (0, 1 << 63):
        base += [sign | b for b in (0, 0x7FF0000000000000, 1, 0x000FFFFFFFFFFFFF,
                                    0x0010000000000000, 0x7FEFFFFFFFFFFFFF, 0x3FF0000000000000,
                                    0x47EFFFFFE0000000, 0x47EFFFFFF0000000, 0x47EFFFFFEFFFFFFF,
                                    0x47EFFFFFF0000001, 0x47F0000000000000, 0x7E37E43C8800759C,
                                    0x36A0000000000000, 0x3690000000000000, 0x3690000000000001,
                                    0x36A8000000000000, 0x380FFFFFC0000000, 0x3810000000000000,
                                    0x40EFFC0000000000, 0x40EFFE0000000000, 0x40EFFDFFFFFFFFFF,
                                    0x40EFFE0000000001, 0x3E70000000000000)]
    base += nan_patterns64()
    specials = np.array(base, dtype=np.uint64)
    groups = [specials]
    # halfway between float32 neighbours, and one and two float64 ulps either side
    mids32 = bits_of(halfway_points("float32", rng), np.float64)
    groups.append(neighbours(mids32, (1, 2)))
    for fmt in ("float16", "bfloat16"):
        mids = bits_of(halfway_points(fmt, rng), np.float64)
        # ulps of float64 either side: float32 rounds them back onto the tie (2^28 is half a
        # float32 ulp in float64 mantissa units), so torch's double rounding shows; 2^28 + 1
        # leaves the tie in float32 already
        groups.append(neighbours(mids, (1, 2, 1 << 20, (1 << 28) - 1, 1 << 28, (1 << 28) + 1,
                                        1 << 29)))
    values = np.concatenate(groups)
    return np.concatenate([values, values[len(specials):] | np.uint64(1 << 63)])


# ---------------------------------------------------------------------------------------------
# vectors


def exhaustive16(rng):
    for source in ("bfloat16", "float16"):
        bits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
        for target in TARGETS:
            if target != source:
                add_vector(f"{SHORT[source]}_all", source, target, bits, "little",
                           generator="all")
        # big-endian: a seeded sample, one pattern in every 64, plus the NaN edges
        sample = (np.arange(0, 65536, 64) + rng.integers(0, 64, 1024)).astype(np.uint16)
        edges = [0x7C01, 0xFC01, 0x7DFF, 0x7E00, 0x7FFF, 0xFFFF, 0x7F81, 0xFF81, 0x7FC1, 0x7F80,
                 0xFF80, 0x7C00, 0xFC00, 0x0001, 0x8001]
        sample[: len(edges)] = edges
        name = f"{SHORT[source]}_sample"
        for order in ("little", "big"):
            input_file = write(f"{name}.{'be' if order == 'big' else 'le'}.bin", raw(sample, order))
            for target in TARGETS:
                add_vector(name, source, target, sample, order, input_file=input_file)


def float8_all():
    for source in DTYPES:
        if not source.startswith("float8"):
            continue
        bits = np.arange(256, dtype=np.uint16).astype(np.uint8)
        input_file = write(f"{SHORT[source]}_all.bin", bits.tobytes())
        for target in TARGETS:
            expected = torch_convert(bits, source, target)
            for order in ("little", "big"):
                add_vector(f"{SHORT[source]}_all", source, target, bits, order,
                           input_file=input_file, expected=expected)


def mixed(rng):
    """Special values, ties and overflow edges plus seeded random patterns, for the wide sources."""
    f32 = np.concatenate([float32_specials(rng),
                          rng.integers(0, 1 << 32, 1000, dtype=np.uint64).astype(np.uint32),
                          splitmix_float32(7, 600)])
    f64 = np.concatenate([float64_specials(rng),
                          rng.integers(0, 1 << 64, 1000, dtype=np.uint64),
                          splitmix_float64(8, 600)])
    for source, bits in (("float32", f32), ("float64", f64)):
        name = f"{SHORT[source]}_mixed"
        for order in ("little", "big"):
            input_file = write(f"{name}.{'be' if order == 'big' else 'le'}.bin", raw(bits, order))
            for target in TARGETS:
                add_vector(name, source, target, bits, order, input_file=input_file)


def long_vectors():
    """>= 100,000 elements per wide-to-narrow pair: torch's vectorized loops at full length."""
    count = 100_032  # a multiple of 64
    for source, gen, seed in (("float32", splitmix_float32, 1), ("float64", splitmix_float64, 2)):
        bits = gen(seed, count)
        for target in ("float16", "bfloat16"):
            expected = torch_convert_plain(bits, source, target)
            # every element agrees with its conversion in a short (padded) tensor
            pieces = [torch_convert(bits[i:i + 4096], source, target)
                      for i in range(0, count, 4096)]
            assert np.array_equal(expected, np.concatenate(pieces)), (source, target)
            add_vector(f"{SHORT[source]}_long", source, target, bits, "little",
                       generator=f"splitmix64-{source}", seed=seed, expected=expected)


# ---------------------------------------------------------------------------------------------
# observations (what the vectors rely on, measured now)


def hexes(values) -> list[str]:
    return [f"0x{int(v):0{2 * np.dtype(values.dtype).itemsize}X}" for v in values]


def scalar_path_differences(rng) -> dict:
    """Converts every sample alone (a one-element tensor: torch's scalar loop) and inside a
    padded tensor (its vectorized loop). Where the two differ the vectors hold the vectorized
    result; the differences are only ever NaNs (asserted) and are listed in the manifest."""
    samples = {"float64": float64_specials(rng), "float32": float32_specials(rng),
               "float16": np.arange(65536, dtype=np.uint32).astype(np.uint16),
               "bfloat16": np.arange(65536, dtype=np.uint32).astype(np.uint16)}
    for source in DTYPES:
        if source.startswith("float8"):
            samples[source] = np.arange(256, dtype=np.uint16).astype(np.uint8)
    as_float = {"float64": np.float64, "float32": np.float32, "float16": np.float16}
    found = {}
    for source, bits in samples.items():
        for target in TARGETS:
            if target == source:
                continue
            vectorized = torch_convert(bits, source, target)
            scalar = np.array([torch_convert_plain(bits[i:i + 1], source, target)[0]
                               for i in range(len(bits))], dtype=vectorized.dtype)
            bad = np.nonzero(scalar != vectorized)[0]
            if len(bad) == 0:
                continue
            assert source in as_float, (source, target)
            assert np.isnan(bits[bad].view(as_float[source])).all(), (source, target)
            examples = [hexes(np.array([x], dtype=bits.dtype)) + hexes(vectorized[i:i + 1])
                        + hexes(scalar[i:i + 1]) for i, x in zip(bad[:4], bits[bad[:4]])]
            found[f"{source}->{target}"] = {"differing_nans": int(len(bad)),
                                            "examples [input, vectorized, scalar]": examples}
    return found


def observations(rng) -> dict:
    nan32 = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FA00000], dtype=np.uint32)
    nan64 = np.array([0x7FF8000000000000], dtype=np.uint64)
    tie64 = bits_of([1 + 2**-8 + 2**-40, 1 + 2**-11 + 2**-40], np.float64)
    mixed17 = torch_convert_plain(np.resize(nan64, 17), "float64", "bfloat16")
    zero_dim = torch.tensor(float("nan")).to(torch.bfloat16).view(torch.int16).numpy()
    return {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "scalar loop differs from vectorized loop": scalar_path_differences(rng),
        "float64->bfloat16 NaN in a 17-element tensor (16 vectorized, the 17th scalar)":
            hexes(mixed17[[0, 16]]),
        "float32->bfloat16 NaNs, contiguous tensor":
            hexes(torch_convert_plain(nan32, "float32", "bfloat16")),
        "float32->bfloat16 NaN, 0-dim tensor": hexes(zero_dim.reshape(1).view(np.uint16)),
        "float32->float16 NaNs (vcvtps2ph: sign and top payload bits kept, quiet bit set)":
            hexes(torch_convert_plain(nan32, "float32", "float16")),
        "bfloat16->float32 signalling NaN 0x7F81 (not quieted)":
            hexes(torch_convert_plain(np.array([0x7F81], dtype=np.uint16), "bfloat16",
                                      "float32")),
        "float64->bfloat16 and ->float16 of 1+2^-8+2^-40 and 1+2^-11+2^-40 (double rounding "
        "through float32; rounding once would give 0x3F81 and 0x3C01)": [
            hexes(torch_convert_plain(tie64[:1], "float64", "bfloat16"))[0],
            hexes(torch_convert_plain(tie64[1:], "float64", "float16"))[0]],
    }


def main():
    torch.set_num_threads(1)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    rng = np.random.default_rng(20240917)
    exhaustive16(rng)
    float8_all()
    mixed(rng)
    long_vectors()
    manifest = {
        "generator": "Scripts/make_cast_vectors.py",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "threads": 1,
        "notes": "expected = torch.from_numpy(bits).view(from).to(to), raw bytes; big-endian "
                 "files are the little-endian ones byte-swapped per element; every tensor was "
                 "padded to a multiple of 64 elements so torch's vectorized loop converts all of "
                 "it (see observations)",
        "observations": observations(np.random.default_rng(1)),
        "vectors": VECTORS,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"{len(VECTORS)} vectors, {len(FILES) + 1} files, {total / 1e6:.2f} MB in {OUT}")


if __name__ == "__main__":
    main()
