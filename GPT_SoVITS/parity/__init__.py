"""Parity checks against golden data produced by the official GPT-SoVITS (``python -m GPT_SoVITS.parity``)."""
