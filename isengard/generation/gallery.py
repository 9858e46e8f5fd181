"""Every picture the studio made, as a gallery: newest first, filtered by character and favourites, with
favourite, delete and "download these as a zip". Pictures are the PNGs a generation saved; the history
(`generations`) keeps their settings, `picture_marks` the favourites."""

from __future__ import annotations

import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from isengard.errors import InputError
from isengard.obs import event
from isengard.storage.db import dumps, loads
from isengard.storage.files import atomic_save

ZIP_MAX = 500  # pictures in one zip


@dataclass(frozen=True)
class Picture:
    path: Path
    generation_id: str
    prompt: str
    seed: int | None
    character_id: int | None
    base_model: str
    created_at: float
    favourite: bool


class PictureGallery:
    def __init__(self, db, paths, generation):
        self.db = db
        self.paths = paths
        self.generation = generation

    def _favourites(self) -> set[str]:
        return {r["path"] for r in self.db.query("SELECT path FROM picture_marks WHERE favourite=1")}

    def pictures(
        self, *, character_id: int | None = None, favourites: bool = False, limit: int = 400
    ) -> list[Picture]:
        marked = self._favourites()
        out: list[Picture] = []
        for gen in self.generation.history(limit=limit):
            if character_id and gen.get("character_id") != int(character_id):
                continue
            for image in gen["images"]:
                path = Path(image["path"])
                if not path.exists() or (favourites and str(path) not in marked):
                    continue
                out.append(
                    Picture(
                        path=path,
                        generation_id=gen["id"],
                        prompt=gen["prompt"],
                        seed=image.get("seed"),
                        character_id=gen.get("character_id"),
                        base_model=gen["base_model"],
                        created_at=gen["created_at"],
                        favourite=str(path) in marked,
                    )
                )
        return out

    def _known(self, path: str | Path) -> Picture:
        wanted = str(Path(path))
        for picture in self.pictures(limit=2000):
            if str(picture.path) == wanted:
                return picture
        raise InputError("That picture is not in the gallery any more.")

    def set_favourite(self, path: str | Path, favourite: bool) -> Picture:
        picture = self._known(path)
        self.db.execute(
            "INSERT INTO picture_marks(path, favourite, updated_at) VALUES (?,?,?)"
            " ON CONFLICT(path) DO UPDATE SET favourite=excluded.favourite, updated_at=excluded.updated_at",
            (str(picture.path), int(bool(favourite)), time.time()),
        )
        event("picture.favourite", f"{picture.path.name} favourite={bool(favourite)}", path=str(picture.path))
        return self._known(path)

    def delete(self, path: str | Path) -> Picture:
        """Remove one picture: from its generation's record first (never a record without its file... the
        other way round is harmless), then the file. A generation left with no pictures goes too."""
        picture = self._known(path)
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT images FROM generations WHERE id=?", (picture.generation_id,)
            ).fetchone()
            images = [i for i in loads(row["images"], []) if str(Path(i["path"])) != str(picture.path)]
            if images:
                conn.execute(
                    "UPDATE generations SET images=? WHERE id=?", (dumps(images), picture.generation_id)
                )
            else:
                conn.execute("DELETE FROM generations WHERE id=?", (picture.generation_id,))
            conn.execute("DELETE FROM picture_marks WHERE path=?", (str(picture.path),))
        picture.path.unlink(missing_ok=True)
        event("picture.deleted", f"{picture.path.name} deleted", path=str(picture.path))
        return picture

    def zip(self, pictures: list[Picture], folder: Path, name: str = "isengard-pictures") -> Path:
        """The pictures (with their settings inside each PNG) in one zip, written atomically."""
        chosen = [p for p in pictures if p.path.exists()][:ZIP_MAX]
        if not chosen:
            raise InputError("There are no pictures to put in a zip.")
        target = Path(folder) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.zip"

        def write(tmp: Path) -> None:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:  # PNGs: no gain
                for index, picture in enumerate(chosen, 1):
                    archive.write(picture.path, f"{index:03d}_{picture.path.name}")

        atomic_save(target, write)
        event("pictures.zipped", f"{len(chosen)} pictures zipped", count=len(chosen), path=str(target))
        return target
