"""Document RAG: ingest text, markdown and PDF files as chunks, search them, offer search as a tool."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinycrew.retrieval.chunking import DEFAULT_MAX_CHARS, DEFAULT_OVERLAP, Chunk, chunk_sections, chunk_text
from tinycrew.retrieval.embedding import embed_query, embed_texts
from tinycrew.retrieval.store import open_collection

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdx"})
_BATCH = 256


@dataclass(frozen=True)
class DocumentHit:
    """A chunk found by `DocumentRetriever.search`, nearest first, with its cosine distance."""

    text: str
    source: str
    chunk_index: int
    heading: str
    distance: float


def read_pdf_pages(path: str | Path) -> list[str]:
    """The extracted text of each page of a PDF (pypdf), in page order."""
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(str(path)).pages]


class DocumentRetriever:
    """Chunks of documents on ChromaDB, one source (file path or given name) replacing its old chunks."""

    def __init__(
        self,
        store_path: str | Path | None = None,
        collection: str = "documents",
        max_chars: int = DEFAULT_MAX_CHARS,
        overlap: int = DEFAULT_OVERLAP,
    ) -> None:
        """Open (or create) the collection; chunks hold at most `max_chars`, neighbours share `overlap`."""
        if max_chars <= 0 or not 0 <= overlap < max_chars:
            raise ValueError(f"need max_chars > 0 and 0 <= overlap < max_chars, got {max_chars}, {overlap}")
        self._collection = open_collection(store_path, collection)
        self.max_chars = max_chars
        self.overlap = overlap

    def __len__(self) -> int:
        """Number of stored chunks."""
        return self._collection.count()

    def sources(self) -> list[str]:
        """The distinct sources that have chunks stored, sorted."""
        metadatas = self._collection.get(include=["metadatas"])["metadatas"] or []
        return sorted({str(m["source"]) for m in metadatas})

    def add_file(self, path: str | Path) -> int:
        """Ingest a .pdf, markdown (.md, .markdown, .mdx) or plain text file; return its chunk count.

        The source is the resolved path, so ingesting the same file again replaces its chunks. PDF
        chunks carry the heading "page N".
        """
        file = Path(path).expanduser().resolve()
        suffix = file.suffix.lower()
        if suffix == ".pdf":
            pages = read_pdf_pages(file)
            sections = [(f"page {i}", text) for i, text in enumerate(pages, start=1) if text.strip()]
            chunks = chunk_sections(sections, self.max_chars, self.overlap)
        else:
            text = file.read_text(encoding="utf-8", errors="replace")
            chunks = chunk_text(text, suffix in MARKDOWN_SUFFIXES, self.max_chars, self.overlap)
        return self._replace(str(file), chunks)

    def add_text(self, text: str, source: str, markdown: bool = True) -> int:
        """Ingest a string under the name `source` (replacing that source's chunks); return the count."""
        return self._replace(source, chunk_text(text, markdown, self.max_chars, self.overlap))

    def remove(self, source: str) -> None:
        """Delete every chunk of `source` (a resolved file path, or the name given to `add_text`)."""
        self._collection.delete(where={"source": source})

    def _replace(self, source: str, chunks: list[Chunk]) -> int:
        """Swap the stored chunks of `source` for `chunks`."""
        self.remove(source)
        prefix = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
        for start in range(0, len(chunks), _BATCH):
            batch = chunks[start : start + _BATCH]
            self._collection.add(
                ids=[f"{prefix}-{chunk.index}" for chunk in batch],
                documents=[chunk.text for chunk in batch],
                # the heading path goes into the embedding too: it names what the chunk is about
                embeddings=embed_texts([f"{c.heading}\n{c.text}" if c.heading else c.text for c in batch]),
                metadatas=[{"source": source, "chunk": c.index, "heading": c.heading} for c in batch],
            )
        return len(chunks)

    def search(self, query: str, k: int = 3) -> list[DocumentHit]:
        """The k chunks closest to `query`, nearest first."""
        if k <= 0:
            return []
        result = self._collection.query(
            query_embeddings=[embed_query(query)],
            n_results=k,
            include=["documents", "metadatas", "distances"],
        )
        return [
            DocumentHit(
                text=document or "",
                source=str(metadata["source"]),
                chunk_index=int(metadata["chunk"]),
                heading=str(metadata.get("heading") or ""),
                distance=float(distance),
            )
            for document, metadata, distance in zip(
                (result["documents"] or [[]])[0],
                (result["metadatas"] or [[]])[0],
                (result["distances"] or [[]])[0],
                strict=True,
            )
        ]


def format_hits(hits: list[DocumentHit]) -> str:
    """Render hits as numbered passages with their source and heading, for a model to read."""
    if not hits:
        return "No matching passages found."
    blocks = []
    for number, hit in enumerate(hits, start=1):
        where = f"{hit.source} > {hit.heading}" if hit.heading else hit.source
        blocks.append(f"[{number}] {where} (chunk {hit.chunk_index})\n{hit.text}")
    return "\n\n".join(blocks)


def search_documents_tool(retriever: DocumentRetriever) -> Callable[..., str]:
    """Make a plain typed function that searches `retriever`, for `tinycrew.tools` to wrap as a tool."""

    def search_documents(query: str, k: int = 3) -> str:
        """Search the user's ingested documents (notes, manuals, PDFs) for passages relevant to a question.

        Use it when the answer may be in the user's own files rather than in general knowledge.

        Args:
            query: What to look for, in natural language, e.g. "how do I reset the router".
            k: How many passages to return (1 to 10).

        Returns:
            The best matching passages, numbered, each with its source file and section heading.
        """
        return format_hits(retriever.search(query, max(1, min(int(k), 10))))

    return search_documents
