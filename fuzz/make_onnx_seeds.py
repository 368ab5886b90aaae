#!/usr/bin/env python3
"""Writes the seed corpus of the `onnx` fuzz target (fuzz/seeds/onnx/): small versions of the 11
exporter fixtures in Tests/CAMRuntimeTests/Fixtures/onnx, which are 90-590 kB, far over the target's
16 kB max_len.

Each seed keeps a fixture's header, opsets, graph inputs and outputs and its first nodes (attributes,
Constant tensors and the dynamo exporter's node metadata included) up to about 6 kB, with every
initializer those nodes read cut to its first 4 values (dims [n]), so that every kind of field the
reader sees in real files appears in the corpus. Three variants per fixture family add what exporters
write less often: the initializers in the typed fields instead of raw bytes (`_typed`), as FLOAT16
(`_fp16`), and one initializer marked as external data (`_external`, refused in memory). The small
files of Tests/CAMRuntimeTests/Fixtures/onnx-files (every data type, attribute kind, subgraphs) are a
second seed folder of the target.

Run once: /tmp/venv/bin/python fuzz/make_onnx_seeds.py   (needs onnx and numpy; deterministic)
"""
import copy
import os
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

root = pathlib.Path(__file__).resolve().parent.parent
fixtures = root / "Tests" / "CAMRuntimeTests" / "Fixtures" / "onnx"
out = root / "fuzz" / "seeds" / "onnx"
out.mkdir(parents=True, exist_ok=True)
for old in out.glob("*.onnx"):
    old.unlink()
BUDGET = 6000


def small(model):
    """The model with its first nodes only (about BUDGET bytes) and tiny initializers."""
    g = model.graph
    keep = onnx.ModelProto()
    keep.CopyFrom(model)
    del keep.graph.node[:]
    del keep.graph.initializer[:]
    del keep.graph.value_info[:]
    inits = {t.name: t for t in g.initializer}
    used = []
    for node in g.node:
        trial = copy.deepcopy(keep)
        trial.graph.node.append(node)
        if trial.ByteSize() > BUDGET and len(keep.graph.node) > 0:
            break
        keep.graph.node.append(node)
        for name in node.input:
            if name in inits and name not in used:
                used.append(name)
    for name in used:
        t = inits[name]
        values = numpy_helper.to_array(t).ravel()[:4]
        keep.graph.initializer.append(numpy_helper.from_array(values, name))
    return keep


def write(name, model):
    data = model.SerializeToString()
    assert len(data) <= 16384, (name, len(data))
    (out / (name + ".onnx")).write_bytes(data)
    return len(data)


sizes = {}
for path in sorted(fixtures.glob("*.onnx")):
    stem = path.stem
    seed = small(onnx.load(path))
    sizes[stem] = write(stem, seed)
    if stem in ("resnet50", "resnet50_dynamo", "vit_b_16"):
        typed = copy.deepcopy(seed)
        for t in typed.graph.initializer:
            if t.data_type == TensorProto.FLOAT:
                values = numpy_helper.to_array(t).ravel().tolist()
                t.ClearField("raw_data")
                t.float_data.extend(values)
            elif t.data_type == TensorProto.INT64:
                values = numpy_helper.to_array(t).ravel().tolist()
                t.ClearField("raw_data")
                t.int64_data.extend(values)
        sizes[stem + "_typed"] = write(stem + "_typed", typed)
        half = copy.deepcopy(seed)
        for i, t in enumerate(half.graph.initializer):
            if t.data_type == TensorProto.FLOAT:
                half.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
        sizes[stem + "_fp16"] = write(stem + "_fp16", half)
        external = copy.deepcopy(seed)
        t = external.graph.initializer[0]
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", "weights.bin"), ("offset", "0"), ("length", str(4 * int(np.prod(t.dims))))):
            t.external_data.append(onnx.StringStringEntryProto(key=key, value=value))
        sizes[stem + "_external"] = write(stem + "_external", external)
print(sizes)
