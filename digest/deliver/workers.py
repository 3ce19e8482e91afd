"""Several sending processes sharing one send through the database.

Each distinct section choice is rendered once, here, before the processes are forked, and
the children inherit the rendered templates. Each child claims its own batches, so no
delivery is sent by two of them; a child that dies leaves its claims for the next run (or,
on PostgreSQL, for another worker once the lease runs out).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import socket
import threading
from collections import Counter
from dataclasses import replace
from multiprocessing.queues import SimpleQueue
from typing import Any

from . import loop
from .send import STOP_SIGNALS, Sender

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """A child outliving a killed `digest send` would keep the run lock and keep sending
    behind the back of the next run: on Linux the kernel kills it with its parent."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: nothing to ask for
        ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl(
            _PR_SET_PDEATHSIG, signal.SIGKILL
        )
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _child(sender: Sender, send_id: int, results: SimpleQueue[Any], parent: int) -> None:
    # Until the event loop takes them over, a stop signal is only noted: the parent's
    # forwarding handler, inherited through fork, must never run here.
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda signum, _frame: sender.on_signal(signum))
    _die_with_parent(parent)
    sender.store.engine.dispose(close=False)  # never share the parent's connections
    sender.progress = None
    sender.options = replace(sender.options, worker=f"{socket.gethostname()}:{os.getpid()}")
    try:
        loop.run(sender.work(send_id))
    finally:
        results.put((dict(sender.counter), sender.abort))


def run_in_processes(sender: Sender, send_id: int, processes: int) -> None:
    """Run sender.work() in `processes` forked children and gather what they did."""
    for choice in sender.store.section_choices(send_id):
        sender.variants.get(choice)
    context = multiprocessing.get_context("fork")
    results: SimpleQueue[Any] = context.SimpleQueue()
    children = [
        context.Process(
            target=_child, args=(sender, send_id, results, os.getpid()), name=f"digest-send-{i}"
        )
        for i in range(processes)
    ]

    def forward(signum: int, _frame: object) -> None:
        """SIGTERM or SIGINT to `digest send`: each child stops cleanly, and we wait."""
        if os.getpid() != parent:  # a child, in the instant after fork: not its business
            return
        sender.on_signal(signum)
        for child in children:
            if child.pid is not None and child.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGTERM)

    parent = os.getpid()
    main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, forward) for sig in STOP_SIGNALS} if main else {}
    try:
        for child in children:
            child.start()
        progress, last = sender.progress, 0
        while any(child.is_alive() for child in children):
            for child in children:
                child.join(timeout=0.5)
            if progress:
                done = sender.store.counts(send_id)
                now = done.total - done.queued
                progress(now - last)
                last = now
        for child in children:
            child.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    while not results.empty():
        counter, abort = results.get()
        sender.counter.update(Counter(counter))
        sender.abort = sender.abort or abort
    failed = [c.exitcode for c in children if c.exitcode]
    if failed and not sender.abort:
        sender.abort = f"{len(failed)} sending process(es) failed (exit {failed[0]})"
