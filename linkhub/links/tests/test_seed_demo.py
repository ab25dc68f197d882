from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from linkhub.links.models import Link

pytestmark = pytest.mark.django_db


def test_seed_demo_from_a_jsonl_file(tmp_path):
    rows = [
        {"url": "https://example.com/a", "title": "A", "description": "first", "tags": ["wikis"]},
        {
            "url": "https://example.com/b",
            "title": "B",
            "description": "second",
            "tags": ["wikis", "pastebins"],
        },
        {"url": "javascript:alert(1)", "title": "bad", "tags": []},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n")
    out, err = StringIO(), StringIO()
    call_command("seed_demo", "--dataset", str(path), "--user", "demo", stdout=out, stderr=err)
    assert "Created user demo" in out.getvalue()
    assert "2 links created" in out.getvalue() and "2 skipped" in out.getvalue()
    assert set(Link.objects.get(url="https://example.com/b").tags.names()) == {"wikis", "pastebins"}
    call_command("seed_demo", "--dataset", str(path), "--user", "demo", stdout=out, stderr=err)
    assert Link.objects.count() == 2
