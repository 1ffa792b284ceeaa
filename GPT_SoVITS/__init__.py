"""GPT-SoVITS-compatible voice cloning toolkit. Importing the package has no side effects."""
