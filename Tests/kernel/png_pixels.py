"""Decodes the PNGs the kernel tests read (Python's standard library has none)."""
import base64
import struct
import zlib


def pixels(data):
    """A PNG's size and pixel bytes, decoded here with zlib (8-bit, non-interlaced, filter types
    0-4) rather than by the product's own PNG reader, which would check it against itself."""
    raw = base64.b64decode(data)
    assert raw[:8] == b'\x89PNG\r\n\x1a\n'
    pos, chunks = 8, {}
    idat = b''
    while pos < len(raw):
        length, kind = struct.unpack('>I4s', raw[pos:pos + 8])
        body = raw[pos + 8:pos + 8 + length]
        if kind == b'IDAT':
            idat += body
        else:
            chunks[kind] = body
        pos += 12 + length
    width, height, depth, colour = struct.unpack('>IIBB', chunks[b'IHDR'][:10])
    channels = {2: 3, 6: 4, 0: 1}[colour]
    stride = width * channels
    rows = zlib.decompress(idat)
    out, previous = bytearray(), bytearray(stride)
    for y in range(height):
        kind, line = rows[y * (stride + 1)], bytearray(rows[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        previous = line
    return width, height, bytes(out)
