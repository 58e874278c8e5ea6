"""Counters shared by two nogil numba threads: acquire/release atomics, a claim, and a polite wait.

:mod:`nsynth_widgets.model.fastgen` runs a step loop on two threads that hand data to each other
through plain arrays; each hand-over is announced by raising a counter (``int64`` slots of one
array, each on its own cache line). The writer fills the data, then :func:`store_release` the
counter; the reader :func:`wait_at_least` the value (an acquire load), then reads the data.
:func:`claim` (compare-and-swap) lets exactly one of two threads take a piece of work. Numba has
no atomics of its own, so these are emitted as LLVM atomic instructions.

A waiting thread spins (with the CPU's ``pause`` hint) for a few microseconds — the usual wait is
shorter than that — then yields its core between polls, and after that sleeps 50 µs between
polls: a thread waiting for one that the OS has descheduled (a busy machine, a notebook's kernel
thread) gives its core away instead of burning it.
"""

import platform

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["STOP", "claim", "load_acquire", "store_release", "wait_at_least"]

#: Index of the slot that, once non-zero, makes every :func:`wait_at_least` on that array return
#: (a thread that failed tells the other one to give up instead of waiting forever).
STOP = 0

_SPINS_BEFORE_YIELD = 2000
_YIELDS_BEFORE_SLEEP = 100
_SLEEP_US = 50
_sched_yield = types.ExternalFunction("sched_yield", types.intc())
_usleep = types.ExternalFunction("usleep", types.intc(types.uintc))


def _slot_pointer(context, builder, array_type, array, index):
    data = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, data, [index])


@intrinsic
def _load_acquire(typingctx, counters, index):
    """``counters[index]`` as an atomic acquire load (later reads see what was written before the store)."""

    def codegen(context, builder, signature, args):
        pointer = _slot_pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(pointer, "acquire", 8)

    return types.int64(counters, index), codegen


@intrinsic
def _store_release(typingctx, counters, index, value):
    def codegen(context, builder, signature, args):
        pointer = _slot_pointer(context, builder, signature.args[0], args[0], args[1])
        builder.store_atomic(args[2], pointer, "release", 8)
        return context.get_dummy_value()

    return types.void(counters, index, types.int64), codegen


@intrinsic
def _compare_exchange(typingctx, counters, index, expected, value):
    """Atomically: if ``counters[index] == expected``, set it to ``value``; return whether it was set."""

    def codegen(context, builder, signature, args):
        pointer = _slot_pointer(context, builder, signature.args[0], args[0], args[1])
        result = builder.cmpxchg(pointer, args[2], args[3], "acq_rel", "acquire")
        return builder.extract_value(result, 1)

    return types.boolean(counters, index, types.int64, types.int64), codegen


@intrinsic
def _pause(typingctx):
    """The spin-wait hint (x86 ``pause``; nothing elsewhere)."""

    def codegen(context, builder, signature, args):
        if platform.machine().lower() in ("x86_64", "amd64"):
            hint = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause"
            )
            builder.call(hint, [])
        return context.get_dummy_value()

    return types.void(), codegen


@numba.njit(cache=True, nogil=True, inline="always")
def store_release(counters, index, value):  # pragma: no cover - compiled
    """Set ``counters[index] = value`` after every earlier write of this thread is visible."""
    _store_release(counters, index, value)


@numba.njit(cache=True, nogil=True, inline="always")
def load_acquire(counters, index):  # pragma: no cover - compiled
    """``counters[index]``, and every write made before the store that set it."""
    return _load_acquire(counters, index)


@numba.njit(cache=True, nogil=True, inline="always")
def claim(counters, index, item):  # pragma: no cover - compiled
    """Take work item ``item`` (items are taken in order: ``counters[index]`` items are taken so far).

    True for exactly one of the threads that try, if no thread took it before.
    """
    return _compare_exchange(counters, index, item, item + 1)


@numba.njit(cache=True, nogil=True)
def wait_at_least(counters, index, value):  # pragma: no cover - compiled
    """Wait until ``counters[index] >= value`` (or ``counters[STOP] != 0``); return whether it was reached."""
    polls = 0
    while _load_acquire(counters, index) < value:
        if _load_acquire(counters, STOP) != 0:
            return False
        if polls < _SPINS_BEFORE_YIELD:
            _pause()
        elif polls < _SPINS_BEFORE_YIELD + _YIELDS_BEFORE_SLEEP:
            _sched_yield()
        else:
            _usleep(_SLEEP_US)
        polls += 1
    return True
