"""Where public benchmark files come from: a local path, or the Hugging Face hub by dataset name."""

from __future__ import annotations

from pathlib import Path

from turnscope.suites.loader import SuiteError


def locate(source: str, patterns: tuple[str, ...]) -> list[Path]:
    """Files for `source`: a local file, a local directory (files matching `patterns`), or a
    Hugging Face dataset repository id ("owner/name") downloaded into the hub cache."""
    path = Path(source).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for pattern in patterns for p in path.rglob(pattern))
        if not found:
            raise SuiteError(f"{path}: no files matching {', '.join(patterns)}")
        return found
    if source.count("/") != 1 or source.startswith((".", "/", "~")):
        raise SuiteError(
            f"{source}: no such file or directory, and not a hub dataset id (owner/name)"
        )
    return _download(source, patterns)


def _download(repo_id: str, patterns: tuple[str, ...]) -> list[Path]:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise SuiteError(
            f"{repo_id}: loading from the Hugging Face hub needs huggingface_hub "
            "(pip install 'turnscope[hub]'), or give a local path"
        ) from None
    try:
        folder = snapshot_download(
            repo_id=repo_id, repo_type="dataset", allow_patterns=list(patterns)
        )
    except Exception as exc:  # the hub client raises many types; all mean "not fetched"
        raise SuiteError(
            f"{repo_id}: cannot download from the Hugging Face hub: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None
    found = sorted(p for pattern in patterns for p in Path(folder).rglob(pattern))
    if not found:
        raise SuiteError(f"{repo_id}: the dataset has no files matching {', '.join(patterns)}")
    return found
