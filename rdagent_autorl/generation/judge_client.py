"""Judge calls made well: bounded concurrency, retries on transient errors, an on-disk cache, counts.

Every judge (an OpenAI-compatible endpoint, a local checkpoint, a task's FAKE stand-in) sits behind
one `JudgeClient`, so graders, training rewards and benchmarks all get the same guarantees:

- a request is answered once per (judge identity, request): the reply is stored in a SQLite file
  under the autorl cache, keyed by a hash of both. Only the key hash and the reply are stored, never
  the prompt (held-out instructions stay out of a cache an agent's process may share) nor the key;
- at most `concurrency` calls are in flight (threads for endpoints; local judges batch instead);
- connection errors, timeouts, 429 and 5xx answers are retried with exponential backoff, other
  errors fail at once with the judge's identity in the message;
- calls, cache hits, tokens and (where litellm knows the model's price) cost are counted in `usage`.

SQLite rather than JSONL files: the grader and an agent's reward loop may write the same cache at the
same time, and it gives keyed lookups without reading everything back.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, Sequence

from pydantic import BaseModel, Field

from rdagent_autorl.types import Prompt


CACHE_CHUNK = 64  # replies asked (and stored) per round


class JudgeError(RuntimeError):
    """The judge could not answer (unreachable, refused, malformed reply); the message names the judge."""


class TransientJudgeError(JudgeError):
    """A failure worth retrying: connection, timeout, rate limit, server error."""


class JudgeRequest(BaseModel):
    prompt: Prompt  # chat messages, or a plain string for a completions endpoint
    max_tokens: int = 512
    temperature: float = 0.0
    top_logprobs: int | None = None  # ask for the first token's top alternatives (logprob preference judges)
    extra: dict[str, Any] = Field(default_factory=dict)  # further endpoint parameters (tools, tool_choice, ...)

    def key(self, identity: str) -> str:
        return hashlib.sha256((identity + "\0" + self.model_dump_json()).encode()).hexdigest()


class JudgeReply(BaseModel):
    text: str = ""
    # The first generated token's alternatives, as OpenAI returns them: [{"token": str, "logprob": float}, ...]
    top_logprobs: list[dict[str, Any]] | None = None
    tool_arguments: str | None = None  # a function call's arguments (JSON text), for function-calling judges
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None


class JudgeUsage(BaseModel):
    calls: int = 0  # requests sent to the judge
    cache_hits: int = 0  # requests answered from the cache
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None  # None: no price known for this judge

    def add(self, reply: JudgeReply) -> None:
        self.calls += 1
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        if reply.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + reply.cost_usd


class JudgeBackend(Protocol):
    """What a judge implementation provides: `complete(request) -> JudgeReply` for one request, or
    `complete_batch(requests)` for local models that batch; and an `identity()` for cache keys."""

    def identity(self) -> str: ...


class ReplyCache:
    """request hash -> reply, in one SQLite file shared by every process on the machine."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self.path, timeout=60)
            # WAL + synchronous=NORMAL: readers never block the writer, and a commit costs no fsync (a
            # power cut may lose the last replies, which only costs asking again; a crash loses nothing)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        return db

    def get(self, key: str) -> JudgeReply | None:
        row = self._db().execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return JudgeReply.model_validate_json(row[0])
        except ValueError:  # a foreign or damaged row: ask again
            return None

    def put_many(self, items: list[tuple[str, JudgeReply]]) -> None:
        with self._db() as db:  # one transaction
            db.executemany("INSERT OR REPLACE INTO replies VALUES (?, ?)", [(k, r.model_dump_json()) for k, r in items])


class JudgeClient:
    """A judge with its cache, concurrency bound, retries and counts. `generate()` keeps the generation
    backends' interface for scorers that want text; `complete()` returns whole replies (logprobs, tool
    calls)."""

    def __init__(self, backend: Any, cache_dir: Path | None = None, concurrency: int = 8, retries: int = 3,
                 backoff_s: float = 0.5, fake: bool = False, temperature: float = 0.0):
        self.temperature = temperature  # of generate()'s requests (complete() takes each request's own)
        self.backend, self.concurrency, self.retries, self.backoff_s = backend, max(1, concurrency), retries, backoff_s
        self.fake = fake or getattr(backend, "fake", False)
        self.cache = ReplyCache(cache_dir / "judge_replies.sqlite") if cache_dir is not None else None
        self.usage = JudgeUsage()
        self._lock = threading.Lock()

    def identity(self) -> str:
        return self.backend.identity()

    def complete(self, requests: Sequence[JudgeRequest]) -> list[JudgeReply]:
        identity = self.identity()
        keys = [r.key(identity) for r in requests]
        replies: list[JudgeReply | None] = [self.cache.get(k) if self.cache else None for k in keys]
        todo = [i for i, r in enumerate(replies) if r is None]
        with self._lock:
            self.usage.cache_hits += len(requests) - len(todo)
        for start in range(0, len(todo), CACHE_CHUNK):  # stored chunk by chunk: a failure later keeps these
            chunk = todo[start:start + CACHE_CHUNK]
            fresh = self._ask([requests[i] for i in chunk])
            for i, reply in zip(chunk, fresh):
                replies[i] = reply
            if self.cache:
                self.cache.put_many([(keys[i], replies[i]) for i in chunk])
        return replies  # type: ignore[return-value]

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int, stop: Sequence[str] = ()) -> list[str]:
        from rdagent_autorl.generation.text import cut_at_stop

        replies = self.complete([JudgeRequest(prompt=p, max_tokens=max_new_tokens, temperature=self.temperature)
                                  for p in prompts])
        return [cut_at_stop(r.text, stop) for r in replies]

    def _ask(self, requests: list[JudgeRequest]) -> list[JudgeReply]:
        if hasattr(self.backend, "complete_batch"):  # a local model: one batched call per chunk
            out: list[JudgeReply] = []
            for start in range(0, len(requests), self.concurrency * 4):
                out += self._retrying(lambda chunk=requests[start:start + self.concurrency * 4]:
                                      self.backend.complete_batch(chunk))
            for reply in out:
                self._count(reply)
            return out
        with ThreadPoolExecutor(min(self.concurrency, len(requests))) as pool:
            return list(pool.map(self._one, requests))

    def _one(self, request: JudgeRequest) -> JudgeReply:
        reply = self._retrying(lambda: self.backend.complete(request))
        self._count(reply)
        return reply

    def _count(self, reply: JudgeReply) -> None:
        with self._lock:
            self.usage.add(reply)

    def _retrying(self, call):
        for attempt in range(self.retries + 1):
            try:
                return call()
            except TransientJudgeError as e:
                if attempt == self.retries:
                    raise JudgeError(f"judge {self.identity()}: still failing after {self.retries} retries: {e}") from e
                with self._lock:
                    self.usage.retries += 1
                time.sleep(self.backoff_s * 2 ** attempt)

    def usage_record(self) -> dict[str, Any]:
        """What a grade or report records about the judge (never its key)."""
        return {"identity": self.identity(), "fake": self.fake, **self.usage.model_dump()}
