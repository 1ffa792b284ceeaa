"""Reference-audio selector: a library of reference clips per voice, comparison tasks, scoring, presets.

``db`` owns the SQLite file (``output/refs/refs.db``, WAL, numbered migrations) and the audio copied beside
it under ``output/refs/<role>/``; ``clips`` holds the audio tools (analysis, split, trim, best windows);
``library`` imports clips; ``tasks`` expands comparison tasks into items; ``render`` renders them with one
engine (a stage CLI: ``python -m GPT_SoVITS.refselect run --task N``); ``review`` sorts, filters, scores
and saves presets. Nothing here imports torch except ``render`` (lazily).
"""
