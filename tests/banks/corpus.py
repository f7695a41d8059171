"""The small hand-made corpus the memory-engine tests share, with exact expectations."""

from __future__ import annotations

CORPUS = [
    {"content": "Alice and Bob planned the Paris trip over coffee.",
     "timestamp": "2024-01-10T09:00:00Z", "tags": ["travel", "work"], "document_id": "doc-a"},
    {"content": "Bob booked the hotel in Paris for the whole team.",
     "timestamp": "2024-02-05T12:00:00Z", "tags": ["travel"], "document_id": "doc-a"},
    {"content": "Alice reviewed the quarterly budget with Carol.",
     "timestamp": "2024-03-01T15:30:00Z", "tags": ["work"], "document_id": "doc-b"},
    {"content": "Carol likes green tea; Alice prefers coffee.",
     "timestamp": "2024-03-20T08:00:00Z", "tags": ["personal"]},
    {"content": "The weather was sunny all week.",
     "timestamp": "2024-04-02T10:00:00Z", "tags": []},
]
