"""The downloader is a stage CLI outside the UI package: ``python -m GPT_SoVITS.download``."""

from GPT_SoVITS.download import HUBS, DownloadError, download  # noqa: F401
