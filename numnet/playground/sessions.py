"""Playground sessions: one per browser tab, each with its own experiment.

A session lives exactly as long as its tab's WebSocket: a closed tab ends it
and stops its training. A session that hears nothing from its page for
`idle_timeout` seconds is closed by the reaper, and at most `max_sessions`
exist at once, so memory stays bounded.

All numnet work (training updates, frames, imports and exports) runs in a
worker thread, one piece of work at a time for the whole server
(`engine_limiter`): on a small machine taking turns is the fair way to share
the cores, and it keeps BLAS threads from competing with the event loop. Each
update is short (an epoch or a time budget of a few tens of milliseconds),
so the sessions interleave.

While playing, a session computes the next frame while the page draws the
previous one, and sends it once the page has acknowledged every frame sent
so far: training runs as fast as the page can show it, and a hidden tab
that stops drawing also stops using the CPU.
"""

import asyncio
import contextlib
import functools
import json
import logging
import secrets
import time

import anyio

from numnet.playground import datasets, state as state_module
from numnet.playground.engine import Playground, dataset_thumbnails
from numnet.playground.state import StateError

logger = logging.getLogger("numnet.playground")


class SessionLimitError(RuntimeError):
    """Raised when `max_sessions` sessions are already open."""


class Session:
    """One tab's experiment, its play loop and its connection.

    Args:
        manager: the owning `SessionManager`.
        send: an async function sending one JSON-able dict to the page.
        close: an async function closing the connection.
    """

    def __init__(self, manager, send, close):
        self.manager = manager
        self.id = secrets.token_urlsafe(18)
        self.playground = None
        self.lock = asyncio.Lock()       # one command or update at a time
        self.last_seen = time.monotonic()
        self.playing = False
        self._send_json = send
        self._close = close
        self._send_lock = asyncio.Lock()
        self._play_task = None
        self._sent = 0                   # frames sent
        self._acknowledged = 0           # frames the page has drawn
        self._drawn = asyncio.Event()
        self._drawn.set()
        self.closed = False

    # ------------------------------------------------------------ plumbing
    async def engine(self, function, *args):
        """Runs numnet work in the worker thread, taking turns with other sessions."""
        return await anyio.to_thread.run_sync(functools.partial(function, *args),
                                              limiter=self.manager.engine_limiter)

    async def send(self, message):
        if self.closed:
            return
        if message.get("type") == "frame":
            self._sent += 1
            message["seq"] = self._sent
            self._drawn.clear()
        async with self._send_lock:
            await self._send_json(message)

    def touch(self):
        self.last_seen = time.monotonic()

    async def close(self, reason=None):
        """Stops training and closes the connection (with `reason` shown on the page)."""
        if self.closed:
            return
        self.playing = False
        if reason:
            try:
                await self.send({"type": "closed", "message": reason})
            except Exception:  # the connection may already be gone
                pass
        self.closed = True
        task, self._play_task = self._play_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()  # takes effect once the update running in the worker ends
            await asyncio.wait({task})
        with contextlib.suppress(Exception):  # the connection may already be gone
            await self._close()

    # ------------------------------------------------------------ messages to the page
    async def send_state(self, errors=()):
        await self.send({"type": "state", "state": self.playground.state,
                         "query": state_module.to_query(self.playground.state),
                         "playing": self.playing,
                         "errors": [{"field": e.field, "message": str(e)} for e in errors]})

    async def send_error(self, message, field=None):
        await self.send({"type": "error", "message": message, "field": field})

    async def send_everything(self, errors=()):
        """State, network and a frame: after anything that rebuilt the model."""
        description = await self.engine(self.playground.describe)
        frame = await self.engine(self.playground.frame)
        await self.send_state(errors)
        await self.send(description)
        await self.send(frame)

    # ------------------------------------------------------------ commands
    async def handle(self, message):
        """Carries out one command from the page; refusals become error messages."""
        self.touch()
        kind = message.get("type")
        if kind == "ack":
            seq = message.get("seq")
            if isinstance(seq, int) and not isinstance(seq, bool):
                self._acknowledged = max(self._acknowledged, min(seq, self._sent))
                if self._acknowledged >= self._sent:
                    self._drawn.set()
            return
        handler = self._HANDLERS.get(kind)
        if handler is None:
            await self.send_error(f"unknown command {kind!r}")
            return
        if self.playground is None and kind != "hello":
            await self.send_error("the page must say hello first")
            return
        try:
            async with self.lock:
                await handler(self, message)
        except StateError as error:
            await self.send_error(str(error), error.field)
            if self.playground is not None:
                await self.send_state()
        except Exception as error:  # a bug must not end the session or the server
            logger.exception("playground session %s: command %r failed", self.id[:6], kind)
            await self._report(error)

    async def _hello(self, message):
        self.playing = False  # a link opens paused, as a page does
        if self.playground is None:
            self.playground = await self.engine(Playground)
        errors = await self.engine(self.playground.load, message.get("state") or {})
        await self.send({"type": "session", "id": self.id, "schema": state_module.schema(),
                         "limits": self.manager.limits(), "thumbnails": dataset_thumbnails(),
                         "domain": datasets.DOMAIN})
        await self.send_everything(errors)

    async def _set(self, message):
        rebuilt = await self.engine(self.playground.change, message.get("changes"))
        if rebuilt:
            await self.send_everything()
        else:
            await self.send_state()

    async def _play(self, message):
        if self.playground.converged:
            await self.engine(self.playground.reset)
            await self.send_everything()
        self.playing = True
        if self._play_task is None or self._play_task.done():
            self._play_task = asyncio.get_running_loop().create_task(self._play_loop())
        await self.send_state()

    async def _pause(self, message):
        self.playing = False
        await self.send_state()

    async def _step(self, message):
        self.playing = False
        await self.send(await self.engine(self._frame))
        await self.send_state()

    async def _reset(self, message):
        self.playing = False
        await self.engine(self.playground.reset)
        await self.send_everything()

    async def _set_weight(self, message):
        if message.get("bias"):
            await self.engine(self.playground.set_bias, message.get("layer"),
                              message.get("target"), message.get("value"))
        else:
            await self.engine(self.playground.set_weight, message.get("layer"),
                              message.get("source"), message.get("target"),
                              message.get("value"))
        await self.send(await self.engine(self.playground.frame))

    _HANDLERS = {"hello": _hello, "set": _set, "play": _play, "pause": _pause, "step": _step,
                 "reset": _reset, "set_weight": _set_weight}

    # ------------------------------------------------------------ the play loop
    def _frame(self, budget=None):
        started = time.perf_counter()
        self.playground.advance(budget)
        frame = self.playground.frame()
        frame["updateMs"] = (time.perf_counter() - started) * 1000.0
        return frame

    async def _play_loop(self):
        try:
            while self.playing and not self.closed:
                async with self.lock:
                    if not self.playing:
                        break
                    frame = await self.engine(self._frame, self.manager.update_budget)
                await self._drawn.wait()  # the page has drawn every frame sent so far
                if not self.playing or self.closed:
                    break
                if frame["generation"] != self.playground.generation:
                    continue  # the page changed the model meanwhile: this frame is stale
                await self.send(frame)
                if frame["status"]["converged"] or frame["diverged"]:
                    self.playing = False
                    if frame["diverged"]:
                        await self.send_error("the loss is no longer a finite number: "
                                              "lower the learning rate and press reset",
                                              "learningRate")
                    await self.send_state()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a closed connection, or a bug: stop, keep serving
            self.playing = False
            logger.exception("playground session %s: the play loop stopped", self.id[:6])
            if not self.closed:
                await self._report(error)

    async def _report(self, error):
        try:
            await self.send_error(f"internal error: {type(error).__name__}: {error}")
            await self.send_state()
        except Exception:
            pass


class SessionManager:
    """All open sessions, their limits and the reaper of idle ones.

    Args:
        max_sessions: how many sessions (tabs) may be open at once.
        idle_timeout: seconds without a message from the page before a
            session is closed.
        update_budget: seconds of training per update while playing, at most.
    """

    def __init__(self, max_sessions=16, idle_timeout=900.0, update_budget=0.03):
        if int(max_sessions) < 1:
            raise ValueError(f"`max_sessions` must be at least 1; got {max_sessions!r}")
        if not idle_timeout > 0 or not update_budget > 0:
            raise ValueError("`idle_timeout` and `update_budget` must be positive; got "
                             f"{idle_timeout!r} and {update_budget!r}")
        self.max_sessions = int(max_sessions)
        self.idle_timeout = float(idle_timeout)
        self.update_budget = float(update_budget)
        self.sessions = {}
        self.upload_limits = {}  # filled in by the server: maxCsvBytes, maxModelBytes
        self.engine_limiter = anyio.CapacityLimiter(1)

    def limits(self):
        return {"maxSessions": self.max_sessions, "idleTimeout": self.idle_timeout,
                **self.upload_limits}

    def open(self, send, close):
        """A new session; raises `SessionLimitError` when all slots are taken."""
        if len(self.sessions) >= self.max_sessions:
            raise SessionLimitError(
                f"the playground server already runs {self.max_sessions} sessions (one per "
                "open tab); close another tab and reload this one")
        session = Session(self, send, close)
        self.sessions[session.id] = session
        return session

    def get(self, session_id):
        session = self.sessions.get(session_id)
        return None if session is None or session.closed else session

    async def close(self, session, reason=None):
        """Closes `session`; when this returns, its training has stopped."""
        await session.close(reason)
        self.sessions.pop(session.id, None)

    async def reap(self):
        """Closes the sessions idle for longer than `idle_timeout`; returns how many."""
        now = time.monotonic()
        idle = [s for s in self.sessions.values() if now - s.last_seen > self.idle_timeout]
        for session in idle:
            minutes = self.idle_timeout / 60
            await self.close(session, f"this session was closed after {minutes:g} minutes "
                                      "without activity; reload the page to start again")
        return len(idle)

    async def close_all(self):
        for session in list(self.sessions.values()):
            await self.close(session, "the playground server is shutting down")


def decode_message(text, limit):
    """The command dict in a WebSocket text message (raises `StateError`)."""
    if len(text) > limit:
        raise StateError(None, f"message too long ({len(text)} characters; at most {limit})")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise StateError(None, "the message is not JSON") from None
    if not isinstance(message, dict):
        raise StateError(None, "the message must be a JSON object")
    return message
