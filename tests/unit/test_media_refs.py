"""附图 evidence: what the channels keep of an image (no database, no server)."""

from __future__ import annotations

import json
from pathlib import Path

from bot.channels.onebot import image_ref
from bot.channels.qq import attachment_url

SAMPLES = Path(__file__).parent.parent / "samples"


def test_onebot_image_segment_and_cq_string():
    segments = [{"type": "image", "data": {"file": "abc.image", "url": "https://q/x.jpg"}}]
    assert image_ref(segments) == {"media_id": "abc.image", "url": "https://q/x.jpg"}
    assert image_ref("[CQ:image,file=def.image,url=https://q/y.jpg]") == {
        "media_id": "def.image",
        "url": "https://q/y.jpg",
    }
    assert image_ref([{"type": "text", "data": {"text": "hi"}}]) == {}


def test_qq_attachment_url():
    sample = json.loads((SAMPLES / "qq_group_at_extended.json").read_text("utf-8"))
    assert attachment_url(sample["d"]["attachments"]).startswith("http")
    assert attachment_url([{"content_type": "image/png", "url": "https://q/z.png"}]) == (
        "https://q/z.png"
    )
    assert attachment_url(["junk", {"url": "u"}]) == "u"
    assert attachment_url(None) == ""
