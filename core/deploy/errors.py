"""Coded errors of deployment (``E6xx``): what went wrong, the numbers, and the fix."""

from __future__ import annotations

from core.kernel.errors import StudioError

#: code -> (title, default fix)
DEPLOY_CODES: dict[str, tuple[str, str]] = {
    "E601": ("export failed", "Install the extra: pip install 'multilingual-ner-studio[onnx]'; see the message."),
    "E602": ("int8 quantization refused",
             "Keep the fp32 ONNX model (already written), or raise --max-f1-drop if the loss is acceptable."),
    "E603": ("no data to check the export", "Pass --data with annotated test sentences (or export a run that "
             "has a test or dev set)."),
    "E604": ("model hub unreachable", "Connect to the internet (the Hub is https://huggingface.co), or copy the "
             "folder by hand; HF_HUB_OFFLINE must not be set."),
    "E605": ("push rejected by the hub", "Check the token (HF_TOKEN or --token) and that you may write to the repo."),
    "E606": ("bad request", "Send JSON {\"text\": ...} or {\"tokens\": [...]} (see /docs)."),
    "E607": ("unauthorized", "Send the header 'Authorization: Bearer <token>' with the service's token."),
}


class DeployError(StudioError):
    """An export, push or service request that cannot be done; ``code`` is one of :data:`DEPLOY_CODES`."""

    def __init__(self, code: str, message: str, **kw) -> None:
        if not kw.get("fix") and code in DEPLOY_CODES:
            kw["fix"] = DEPLOY_CODES[code][1]
        super().__init__(code, message, **kw)
