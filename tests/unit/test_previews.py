"""Live previews are small JPEGs, written atomically and overwritten per step."""

from PIL import Image

from plugins.image.interface import write_preview


def test_write_preview_writes_a_jpeg_and_overwrites_it(tmp_path):
    first = write_preview(Image.new("RGBA", (256, 192), (200, 30, 40, 255)), tmp_path, "job1")
    assert first == tmp_path / "previews" / "job1.jpg"
    with Image.open(first) as picture:
        assert picture.format == "JPEG" and picture.size == (256, 192)
        red, green, blue = picture.getpixel((128, 96))
    assert abs(red - 200) < 8 and abs(green - 30) < 8 and abs(blue - 40) < 8

    second = write_preview(Image.new("RGB", (256, 192), (10, 10, 220)), tmp_path, "job1")
    assert second == first
    with Image.open(second) as picture:
        assert picture.getpixel((0, 0))[2] > 200
    assert sorted(p.name for p in (tmp_path / "previews").iterdir()) == ["job1.jpg"]
