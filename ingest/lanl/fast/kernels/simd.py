"""Byte-scanning primitives for the fast LANL kernels, as numba intrinsics.

Numba has no unaligned word load and no vector compare, so these two emit the
LLVM IR directly (``numba.extending.intrinsic``):

* :func:`load_i64` reads 8 bytes at any offset of a ``uint8`` array as one
  little-endian ``int64`` (one ``mov`` instead of eight byte loads and shifts);
* :func:`eq_mask64` compares 64 bytes at any offset with one byte value and
  returns the result as a bit mask (bit ``j`` set when byte ``offset + j``
  equals it): one ``vpcmpeqb`` + ``kmovq`` with AVX-512, a few SSE/AVX2
  instructions elsewhere (LLVM lowers the vector ops for the host CPU).

* :func:`prefetch` asks for the cache line of an array element ahead of its use
  (``llvm.prefetch``), so a loop of hash-table probes keeps several in flight.

None checks bounds: callers keep ``offset + 8`` (``+ 64``) within the array.
:func:`low_bytes` masks a loaded word to its first ``n`` bytes.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ingest.lanl.fast.kernels.tables import inline

_I8 = ir.IntType(8)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_V64 = ir.VectorType(_I8, 64)


def _byte_pointer(context, builder, ary_type, ary, offset):
    ary = context.make_array(ary_type)(context, builder, ary)
    return builder.gep(ary.data, [offset])


@intrinsic
def load_i64(typingctx, arr, offset):
    """The 8 bytes ``arr[offset:offset + 8]`` as a little-endian int64 (no bounds check)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.uint8):
        return None
    sig = types.int64(arr, offset)

    def codegen(context, builder, sig, args):
        ptr = _byte_pointer(context, builder, sig.args[0], args[0], args[1])
        return builder.load(builder.bitcast(ptr, _I64.as_pointer()), align=1)

    return sig, codegen


@intrinsic
def eq_mask64(typingctx, arr, offset, value):
    """Bit ``j`` set when ``arr[offset + j] == value``, for ``j < 64`` (no bounds check)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.uint8):
        return None
    sig = types.uint64(arr, offset, value)

    def codegen(context, builder, sig, args):
        ptr = _byte_pointer(context, builder, sig.args[0], args[0], args[1])
        block = builder.load(builder.bitcast(ptr, _V64.as_pointer()), align=1)
        byte = builder.trunc(args[2], _I8)
        one = builder.insert_element(ir.Constant(_V64, ir.Undefined), byte, ir.Constant(_I32, 0))
        zeros = ir.Constant(ir.VectorType(_I32, 64), [0] * 64)
        splat = builder.shuffle_vector(one, ir.Constant(_V64, ir.Undefined), zeros)
        return builder.bitcast(builder.icmp_unsigned("==", block, splat), _I64)

    return sig, codegen


@intrinsic
def prefetch(typingctx, arr, index):
    """Prefetch the cache line of flat element ``index`` of a C-contiguous array (for reading)."""
    if not (isinstance(arr, types.Array) and arr.layout == "C"):
        return None
    sig = types.void(arr, index)

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        ptr = builder.bitcast(builder.gep(ary.data, [args[1]]), _I8.as_pointer())
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, _I32, _I32, _I32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read, keep in all cache levels, data cache
        builder.call(fn, [ptr, ir.Constant(_I32, 0), ir.Constant(_I32, 3), ir.Constant(_I32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@inline
def low_bytes(w, n):
    """``w`` with only its first (lowest) ``n`` bytes kept, ``n >= 0``."""
    if n >= 8:
        return w
    return w & ((1 << (8 * n)) - 1)
