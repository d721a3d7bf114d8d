"""Reading and describing MIDI: the loader and its repairs, tokens, fingerprints, the guitar
decision, audio rendering. Imports nothing else of deeprock's but the top-level helpers
(docs/architecture.md)."""
