"""Every bad file is rejected with a reason a person understands; good files are stored upright."""

import pytest
from PIL import Image

from isengard.characters.uploads import check_photo, display_name
from isengard.errors import InputError
from tests import photos


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return photos.bad_files(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("text_as_jpg", "not an image"),
        ("zero_bytes", "empty (0 bytes)"),
        ("truncated", "damaged or incomplete"),
        ("one_pixel", "only 1×1 pixels"),
        ("huge", "400 megapixels; the limit is 50 megapixels"),
        ("animated_gif", "animated images (GIF) are not supported"),
    ],
)
def test_bad_files_are_rejected_with_a_reason(bad, kind, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_photo(bad[kind])


def test_a_big_image_below_the_bomb_limit_is_measured_exactly(tmp_path):
    path = tmp_path / "big.png"
    Image.new("1", (9000, 6000), 0).save(path)
    with pytest.raises(InputError, match=r"9000×6000 \(54 megapixels\); the limit is 50 megapixels"):
        check_photo(path)


def test_a_still_gif_is_rejected_by_format(tmp_path):
    path = tmp_path / "still.gif"
    Image.new("RGB", (300, 300)).save(path)
    with pytest.raises(InputError, match="GIF images are not supported"):
        check_photo(path)


def test_exif_rotation_is_applied(tmp_path):
    path = photos.exif_rotated(tmp_path / "sideways.jpg")
    with Image.open(path) as raw:
        assert raw.size == (400, 512)  # stored sideways
    checked = check_photo(path)
    assert checked.rotated and (checked.width, checked.height) == (512, 400)
    import io

    stored = Image.open(io.BytesIO(checked.data))
    assert stored.size == (512, 400) and stored.getexif().get(0x0112, 1) in (None, 1)


def test_good_file_is_kept_byte_for_byte(tmp_path):
    path = photos.good_set(tmp_path)[0]
    checked = check_photo(path, "../../etc/portrait.jpg")
    assert checked.data == path.read_bytes() and not checked.rotated
    assert checked.format == "JPEG" and checked.ext == ".jpg"
    assert checked.original_name == "portrait.jpg"  # the path part is dropped


def test_extension_is_not_trusted(tmp_path):
    path = tmp_path / "really_png.jpg"
    photos.astronaut().save(path, format="PNG")
    assert check_photo(path).format == "PNG" and check_photo(path).ext == ".png"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("../../x.png", "x.png"), ("..\\..\\evil.jpg", "evil.jpg"), ("", "unnamed"), ("a\x00b.png", "ab.png")],
)
def test_display_names_never_carry_a_path(raw, shown):
    assert display_name(raw) == shown
