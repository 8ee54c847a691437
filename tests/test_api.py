"""The Python front door on the shipped example photos (no ../shared needed): MaskPipeline.predict over every kind
of source, results that count, draw, save and serialise themselves, the flag rule, and one-line errors."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import facemask
from facemask import FacemaskError, FaceResult, ImageResult, MaskPipeline
from facemask.drawing import label_colour
from facemask.geometry import Box
from facemask.metadata import INCORRECT, MASKED, UNMASKED

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TWO_PEOPLE = EXAMPLES / "two_people.jpg"


@pytest.fixture(scope="module")
def pipeline() -> MaskPipeline:
    return MaskPipeline.load()


@pytest.fixture(scope="module")
def two_people(pipeline) -> ImageResult:
    return next(pipeline.predict(TWO_PEOPLE))


def _faces(result: ImageResult) -> list[tuple[list[int], str]]:
    return [(face.box.as_list(), face.label) for face in result.faces]


def test_predict_on_a_photo_finds_both_people_and_counts_them(two_people):
    assert two_people.image == str(TWO_PEOPLE)
    assert (two_people.width, two_people.height) == (949, 512)
    assert sorted(face.label for face in two_people.faces) == [MASKED, UNMASKED]
    assert two_people.counts == {MASKED: 1, UNMASKED: 1, INCORRECT: 0}
    assert [face.flagged for face in two_people.faces] == [face.label == UNMASKED for face in two_people.faces]


def test_a_folder_gives_its_images_in_order_and_a_glob_and_a_list_the_same_results(pipeline, two_people, tmp_path):
    folder = list(pipeline.predict(EXAMPLES))
    assert [Path(result.image).name for result in folder] == ["astronaut.jpg", "grace_hopper.jpg", "two_people.jpg"]
    assert all(result.faces and result.counts[UNMASKED] >= 1 for result in folder)
    assert _faces(folder[2]) == _faces(two_people)
    globbed = list(pipeline.predict(str(EXAMPLES / "two_*.jpg")))
    assert [_faces(result) for result in globbed] == [_faces(two_people)]
    listed = list(pipeline.predict([TWO_PEOPLE, str(EXAMPLES / "astronaut.jpg")]))
    assert [Path(result.image).name for result in listed] == ["two_people.jpg", "astronaut.jpg"]
    assert _faces(listed[0]) == _faces(two_people)


def test_an_array_gives_what_its_file_gives_and_other_layouts_are_converted(pipeline, two_people):
    image = cv2.imread(str(TWO_PEOPLE))
    from_array = next(pipeline.predict(image))
    assert from_array.image == "<array>"
    assert _faces(from_array) == _faces(two_people)
    mixed = list(pipeline.predict([image, TWO_PEOPLE]))
    assert [result.image for result in mixed] == ["<array 0>", str(TWO_PEOPLE)]
    gray = next(pipeline.predict(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)))
    assert gray.pixels.shape == image.shape and gray.pixels.dtype == np.uint8
    scaled = next(pipeline.predict(image.astype(np.float32) / 255.0))
    assert _faces(scaled) == _faces(two_people)


def test_plot_draws_each_face_in_its_colour_on_a_copy(two_people):
    original = cv2.imread(str(TWO_PEOPLE))
    annotated = two_people.plot()
    assert annotated.shape == original.shape
    assert np.array_equal(two_people.pixels, original), "plot must not draw on the kept picture"
    for face in two_people.faces:
        box = face.box
        assert tuple(int(v) for v in annotated[box.y + box.h // 2, box.x]) == label_colour(face.label)


def test_save_writes_the_annotated_picture_atomically_and_replaces_an_old_file(two_people, tmp_path):
    target = tmp_path / "annotated.png"
    target.write_bytes(b"old")
    assert two_people.save(target) == target
    assert np.array_equal(cv2.imread(str(target)), two_people.plot())  # PNG: lossless
    assert sorted(path.name for path in tmp_path.iterdir()) == ["annotated.png"]  # no temporary file left
    jpeg = two_people.save(str(tmp_path / "annotated.jpg"))
    assert cv2.imread(str(jpeg)).shape == (512, 949, 3)


def test_to_json_is_the_documented_result(two_people):
    record = json.loads(json.dumps(two_people.to_json()))
    assert set(record) == {"image", "width", "height", "faces"}
    assert [(face["box"], face["label"]) for face in record["faces"]] == _faces(two_people)


def test_a_result_of_process_image_draws_on_the_picture_it_is_given(pipeline, two_people):
    image = cv2.imread(str(TWO_PEOPLE))
    result = pipeline.process_image(image, "door.jpg")
    with pytest.raises(FacemaskError, match=r"no picture kept .*: door\.jpg$"):
        result.plot()
    assert np.array_equal(result.plot(image), two_people.plot())
    with pytest.raises(FacemaskError, match=r"picture of 475x256 given for a result of 949x512: door\.jpg$"):
        result.plot(image[::2, ::2])


def test_flagged_is_every_label_but_with_mask():
    def face(label: str) -> FaceResult:
        return FaceResult(Box(0, 0, 10, 10), 0.9, label, 0.9, {label: 0.9})

    assert [face(label).flagged for label in (MASKED, UNMASKED, INCORRECT)] == [False, True, True]


def _one_line_error(call) -> str:
    with pytest.raises(FacemaskError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_bad_sources_raise_one_line_errors_naming_them_before_any_image_is_read(pipeline, tmp_path):
    missing = tmp_path / "absent.jpg"
    assert _one_line_error(lambda: pipeline.predict(missing)) == f"no such file or folder: {missing}"
    assert _one_line_error(lambda: pipeline.predict([TWO_PEOPLE, missing])) == f"no such file or folder: {missing}"
    (tmp_path / "empty").mkdir()
    assert _one_line_error(lambda: pipeline.predict(tmp_path / "empty")).endswith(str(tmp_path / "empty"))
    pattern = str(tmp_path / "*.jpg")
    assert _one_line_error(lambda: pipeline.predict(pattern)) == f"no files match the pattern: {pattern}"
    assert "empty" in _one_line_error(lambda: pipeline.predict([]))
    assert "empty image path" in _one_line_error(lambda: pipeline.predict(""))
    assert "got int" in _one_line_error(lambda: pipeline.predict(5))
    assert "got shape (4,), uint8: <array>" in _one_line_error(lambda: pipeline.predict(np.zeros(4, np.uint8)))
    nan = np.full((8, 8, 3), np.nan, np.float32)
    assert _one_line_error(lambda: list(pipeline.predict(nan))).endswith("<array>")


def test_an_unreadable_file_raises_naming_it_when_its_turn_comes(pipeline, tmp_path):
    shutil.copy(TWO_PEOPLE, tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_bytes(b"not an image")
    results = pipeline.predict(tmp_path)
    assert len(next(results).faces) == 2
    assert _one_line_error(lambda: next(results)) == f"not an image or corrupt image file: {tmp_path / 'b.jpg'}"


def test_save_to_a_missing_folder_or_an_unknown_format_names_the_path(two_people, tmp_path):
    assert _one_line_error(lambda: two_people.save(tmp_path / "absent" / "a.jpg")).endswith(
        str(tmp_path / "absent" / "a.jpg")
    )
    assert _one_line_error(lambda: two_people.save(tmp_path / "a.unknown")).endswith(str(tmp_path / "a.unknown"))


def test_every_front_door_name_is_visible_to_type_checkers():
    tree = ast.parse(Path(facemask.__file__).read_text(encoding="utf-8"))
    typed = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
        for statement in node.body
        if isinstance(statement, ast.ImportFrom)
        for alias in statement.names
    }
    assert typed == set(facemask.__all__)
