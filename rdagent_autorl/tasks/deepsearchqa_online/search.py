"""The search backends the deepsearchqa-online environment calls: one interface, three implementations.

- `local`: BM25 (bm25s) over a document collection on disk (`docs.jsonl` + a bm25s index folder, built by
  `build_index`): offline, deterministic, ~2-3 ms a query over the 10k-article collection;
- `ddgs`: real web results from DuckDuckGo (the `ddgs` package, or its older name `duckduckgo_search`);
- `serpapi`: Google results through SerpAPI's REST API (`SERPAPI_API_KEY`).

`search(query, k)` returns results (doc id, title, snippet); `open(doc_id)` returns a document (its text and
the documents it links to) or None. Web results' doc ids are their URLs; `open` fetches the page and keeps its
text. A backend that is not installed, not configured or not reachable raises `SearchUnavailable` with what
to do; `probe()` asks one query so a run can fail before it starts.

`QueryCache` wraps any backend with a JSONL file (query -> results, url -> page): a grade re-played in the
same run sees the same results, and training rollouts do not hammer an API. The local backend is
deterministic and fast, so it is not cached.

Standard library only, plus bm25s for `local` and the web client for `ddgs`: the workspace gets a copy
(`env/deepsearch_search.py`) next to the environment module.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import threading
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

BACKENDS = ("local", "ddgs", "serpapi")
SNIPPET_CHARS = 100
PAGE_CHARS = 700  # an opened page is cut here (the lead sections: median 459 characters); its links are all listed
WEB_TIMEOUT_S = 20.0


class SearchUnavailable(RuntimeError):
    """The configured search backend cannot be used here; the message says why and what to do."""


@dataclass
class Result:
    doc_id: str  # what open[...] takes: a title (local) or a URL (web)
    title: str
    snippet: str


@dataclass
class Document:
    doc_id: str
    title: str
    text: str
    description: str = ""
    topic: str = ""
    links: list[str] = field(default_factory=list)  # doc ids of the documents this one mentions


class SearchBackend(Protocol):
    name: str

    def search(self, query: str, k: int) -> list[Result]: ...

    def open(self, doc_id: str) -> Document | None: ...


def _tokens(texts: list[str]):
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


def index_text(doc: Document) -> str:
    """What BM25 indexes for a document: the title twice (a title hit outweighs a passing mention), the
    short description, the text."""
    return f"{doc.title} {doc.title} {doc.description} {doc.text}"


def build_index(docs: list[Document], folder: Path) -> None:
    """Write `docs.jsonl` and the bm25s index into `folder` (a fresh folder; the caller renames it into place)."""
    import bm25s

    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "docs.jsonl").open("w") as f:
        for doc in docs:
            f.write(json.dumps(asdict(doc)) + "\n")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([index_text(d) for d in docs], stopwords="en", show_progress=False),
                    show_progress=False)
    retriever.save(str(folder / "bm25"))


class LocalSearch:
    """BM25 over a collection folder written by `build_index`."""

    name = "local"

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        if not (folder / "docs.jsonl").is_file() or not (folder / "bm25").is_dir():
            raise SearchUnavailable(f"no search index in {folder} (docs.jsonl and bm25/): build it with the task "
                                    "package (rdagent_autorl.tasks.deepsearchqa_online.corpus.collection_folder())")
        try:
            import bm25s
        except ImportError as e:
            raise SearchUnavailable("the local search backend needs bm25s: pip install bm25s") from e
        with (folder / "docs.jsonl").open() as f:
            self.docs = [Document(**json.loads(line)) for line in f if line.strip()]
        self.by_id = {d.doc_id: d for d in self.docs}
        self.by_key = {_key(d.doc_id): d for d in self.docs}  # open[...] forgives case and spacing
        self._bm25 = bm25s.BM25.load(str(folder / "bm25"))
        self._lock = threading.Lock()  # one retriever shared by every environment of a play

    def search(self, query: str, k: int) -> list[Result]:
        if not query.strip():
            return []
        with self._lock:
            ids, scores = self._bm25.retrieve(_tokens([query]), k=min(k, len(self.docs)), show_progress=False)
        return [_result(self.docs[int(i)]) for i, s in zip(ids[0], scores[0]) if s > 0]

    def open(self, doc_id: str) -> Document | None:
        return self.by_id.get(doc_id.strip()) or self.by_key.get(_key(doc_id))

    def probe(self) -> None:
        return None  # the index loaded: nothing can be unreachable


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _result(doc: Document) -> Result:
    first = doc.text if len(doc.text) <= SNIPPET_CHARS else doc.text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " ..."
    lead = f"{doc.description}. " if doc.description else ""
    return Result(doc.doc_id, doc.title, lead + first)


class _Text(html.parser.HTMLParser):
    """The visible text of an HTML page (scripts and styles dropped). Written here because the environment
    file must run on the standard library; a fetched page only has to be readable, not rendered."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style", "noscript")
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style", "noscript") and self._skip > 0
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif not self._skip and data.strip():
            self.parts.append(data.strip())


def fetch_page(url: str) -> Document | None:
    """A web page as a document (its visible text), or None when it cannot be fetched."""
    if not re.match(r"https?://", url):
        return None
    request = urllib.request.Request(url, headers={"User-Agent": "Mozilla/5.0 (rdagent-autorl deepsearch)"})
    try:
        with urllib.request.urlopen(request, timeout=WEB_TIMEOUT_S) as response:
            body = response.read(2_000_000).decode(response.headers.get_content_charset() or "utf-8", "replace")
    except (OSError, ValueError):
        return None
    parser = _Text()
    parser.feed(body)
    return Document(url, parser.title.strip() or url, " ".join(parser.parts)[:PAGE_CHARS * 4])


class DdgsSearch:
    """DuckDuckGo web search through the `ddgs` client (or `duckduckgo_search`, its earlier name)."""

    name = "ddgs"

    def __init__(self):
        try:
            from ddgs import DDGS
        except ImportError:
            try:
                from duckduckgo_search import DDGS
            except ImportError as e:
                raise SearchUnavailable("the ddgs search backend needs its client: pip install ddgs") from e
        self._client = DDGS()

    def search(self, query: str, k: int) -> list[Result]:
        try:
            hits = self._client.text(query, max_results=k) or []
        except Exception as e:  # the client raises its own exception types (rate limits, timeouts)
            raise SearchUnavailable(f"ddgs search failed ({type(e).__name__}: {e}); is the web reachable?") from e
        return [Result(h.get("href", ""), h.get("title", ""), h.get("body", "")[:SNIPPET_CHARS]) for h in hits[:k]]

    def open(self, doc_id: str) -> Document | None:
        return fetch_page(doc_id.strip())

    def probe(self) -> None:
        self.search("DeepSearchQA benchmark", 1)


class SerpApiSearch:
    """Google results through SerpAPI (https://serpapi.com/search.json), key from SERPAPI_API_KEY."""

    name = "serpapi"
    URL = "https://serpapi.com/search.json"

    def __init__(self, api_key: str | None = None):
        self.api_key = api_key or os.environ.get("SERPAPI_API_KEY", "")
        if not self.api_key:
            raise SearchUnavailable("the serpapi search backend needs an API key: set SERPAPI_API_KEY")

    def search(self, query: str, k: int) -> list[Result]:
        url = f"{self.URL}?{urllib.parse.urlencode({'engine': 'google', 'q': query, 'num': k, 'api_key': self.api_key})}"
        try:
            with urllib.request.urlopen(url, timeout=WEB_TIMEOUT_S) as response:
                body = json.loads(response.read())
        except (OSError, ValueError) as e:
            raise SearchUnavailable(f"serpapi unreachable or refused the request ({type(e).__name__}: {e})") from e
        if "error" in body and not body.get("organic_results"):
            raise SearchUnavailable(f"serpapi: {body['error']}")
        return [Result(h.get("link", ""), h.get("title", ""), h.get("snippet", "")[:SNIPPET_CHARS])
                for h in body.get("organic_results", [])[:k]]

    def open(self, doc_id: str) -> Document | None:
        return fetch_page(doc_id.strip())

    def probe(self) -> None:
        self.search("DeepSearchQA benchmark", 1)


class QueryCache:
    """A backend with a JSONL cache of its answers (one line per query or opened page), shared by every
    environment of the process and kept across processes that name the same file."""

    def __init__(self, backend, path: str | Path):
        self.backend, self.name, self.path = backend, backend.name, Path(path)
        self._lock = threading.Lock()
        self._entries: dict[str, object] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                    self._entries[entry["key"]] = entry["value"]
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line: that query is asked again
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def _cached(self, key: str, compute):
        with self._lock:
            if key in self._entries:
                return self._entries[key]
        value = compute()
        with self._lock:
            self._entries[key] = value
            with self.path.open("a") as f:
                f.write(json.dumps({"key": key, "value": value}) + "\n")
        return value

    def search(self, query: str, k: int) -> list[Result]:
        rows = self._cached(json.dumps(["search", self.name, query, k]),
                            lambda: [asdict(r) for r in self.backend.search(query, k)])
        return [Result(**r) for r in rows]

    def open(self, doc_id: str) -> Document | None:
        row = self._cached(json.dumps(["open", self.name, doc_id]),
                           lambda: (lambda d: asdict(d) if d else None)(self.backend.open(doc_id)))
        return Document(**row) if row else None

    def probe(self) -> None:
        self.backend.probe()


def make_backend(name: str, *, index_folder: str | Path | None = None, cache_file: str | Path | None = None,
                 serpapi_key: str | None = None):
    """The backend `name` (one of BACKENDS); web backends answer through `cache_file` when one is given."""
    if name == "local":
        if index_folder is None:
            raise SearchUnavailable("the local search backend needs its index folder")
        return LocalSearch(index_folder)
    if name == "ddgs":
        backend = DdgsSearch()
    elif name == "serpapi":
        backend = SerpApiSearch(serpapi_key)
    else:
        raise SearchUnavailable(f"unknown search backend '{name}'; choose from: {', '.join(BACKENDS)}")
    return QueryCache(backend, cache_file) if cache_file else backend
