"""The API's voice presets; the format lives in the core (``GPT_SoVITS.presets``) so the inference CLI and
the reference selector use the same one without importing the API."""

from GPT_SoVITS.presets import NAME_RE, NOT_KNOBS, Preset, PresetError, PresetStore, check_knobs, check_name

__all__ = ["NAME_RE", "NOT_KNOBS", "Preset", "PresetError", "PresetStore", "check_knobs", "check_name"]
