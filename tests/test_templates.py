"""The mask templates: drawn by the repository's script, at least 12 distinct, each with every anchor."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from facemask.defaults import default_templates
from facemask.errors import FacemaskError
from facemask.templates import anchor_names, load_template, load_templates

SHIPPED = default_templates()


def test_shipped_templates_are_many_and_distinct():
    templates = load_templates(SHIPPED)
    assert len(templates) >= 12
    assert {"surgical", "n95", "kn95", "cloth"} <= {t.kind for t in templates}
    for template in templates:
        assert template.image.shape == (300, 400, 4)
        alpha = template.image[:, :, 3]
        assert 0.3 < (alpha > 127).mean() < 0.9, template.name
        assert set(template.anchors) == set(anchor_names())
    for i, first in enumerate(templates):  # no two pictures alike
        for second in templates[i + 1 :]:
            difference = np.abs(first.image.astype(int) - second.image.astype(int))[..., :3].mean()
            assert difference > 5, (first.name, second.name)


def test_anchors_lie_on_the_mask_outline_or_inside():
    template = load_templates(SHIPPED)[0]
    alpha = cv2.dilate(template.image[:, :, 3], np.ones((15, 15), np.uint8))
    for name, (x, y) in template.anchors.items():
        assert alpha[int(round(y)), int(round(x))] > 0, name


@pytest.mark.slow
def test_script_regenerates_the_shipped_templates(run_script, tmp_path):
    result = run_script("scripts/make_mask_templates.py", "--output", tmp_path)
    assert result.returncode == 0, result.stderr
    shipped = sorted(p.name for p in SHIPPED.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == shipped
    for name in shipped:
        if name.endswith(".json"):
            assert json.loads((tmp_path / name).read_text()) == json.loads((SHIPPED / name).read_text())
        else:
            drawn = cv2.imread(str(tmp_path / name), cv2.IMREAD_UNCHANGED).astype(int)
            kept = cv2.imread(str(SHIPPED / name), cv2.IMREAD_UNCHANGED).astype(int)
            assert np.abs(drawn - kept).mean() < 1.0, name


def test_bad_template_files_are_one_line_errors(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(FacemaskError, match="not a valid mask template file"):
        load_template(tmp_path / "broken.json")
    (tmp_path / "broken.json").write_text(
        json.dumps({"name": "x", "kind": "cloth", "image": "x.png", "anchors": {"bridge": [1, 2]}})
    )
    with pytest.raises(FacemaskError, match="lacks anchors"):
        load_template(tmp_path / "broken.json")
    with pytest.raises(FacemaskError, match="not found"):
        load_templates(tmp_path / "missing")
