"""Writes the seed corpus of the `npy` fuzz target: small .npy files of every dtype and
layout NumPy writes (versions 1, 2 and 3, scalars, empty and high-rank arrays, big-endian)."""
import io, os
import numpy as np
from numpy.lib import format as npf

out = os.path.join(os.path.dirname(__file__), "seeds", "npy")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(8)

def save(name, arr, version=None):
    buf = io.BytesIO()
    if version is None:
        np.save(buf, arr)
    else:
        npf.write_array(buf, arr, version=version)
    with open(os.path.join(out, name + ".npy"), "wb") as f:
        f.write(buf.getvalue())

base = rng.standard_normal((2, 3, 4)).astype(np.float32)
save("f32-2x3x4", base)
save("f16", base.astype(np.float16))
save("f64", base.astype(np.float64))
save("f32-big-endian", base.astype(">f4"))
for t in ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"]:
    save(t, (base * 10).astype(t))
save("bool", base > 0)
save("scalar", np.float32(3.5))
save("empty", np.zeros((0, 3), np.float32))
save("rank5", rng.standard_normal((1, 2, 1, 2, 3)).astype(np.float32))
save("fortran", np.asfortranarray(base[0]))
save("v2", base, version=(2, 0))
save("v3", base, version=(3, 0))
save("cam-1x7x7", rng.random((1, 7, 7)).astype(np.float32))
