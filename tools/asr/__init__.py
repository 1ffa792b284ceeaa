"""Speech recognition that labels a folder of clips into a ``.list`` file (``python -m tools.asr``).

Backends: faster-whisper (``tools.asr.whisper``, the default; any language) and FunASR Paraformer
(``tools.asr.paraformer``, Chinese, an optional extra). Both take 16 kHz mono float32 audio.
"""
