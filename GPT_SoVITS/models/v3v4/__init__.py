"""v3/v4 models as a whole: loading (base, LoRA merge, vocoders) and synthesis (CFM + vocoder)."""
