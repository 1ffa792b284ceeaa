"""The pretrained-file table lives in ``GPT_SoVITS.pretrained`` (the downloader stage needs it too)."""

from GPT_SoVITS.pretrained import (  # noqa: F401
    BERT,
    HUB_REPO,
    HUBERT,
    VERSIONS,
    FileStatus,
    VersionFiles,
    missing,
    status,
)
