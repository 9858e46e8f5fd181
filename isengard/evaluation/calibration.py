"""One calibration for every likeness judgement: the marks, where they come from, and their words.

Photo checks, training-time scoring, `evaluate` and the UI all read these marks. Distances are in
the face model's own units, so each mark is a fraction of the plugin's same-person distance (dlib: 0.6).
Another face model maps onto the same scale and the same words.

Measured on real faces the project ships (`tests/fixtures/faces/`): skimage's astronaut, matplotlib's
Grace Hopper, three different photos of Barack Obama and one of Joe Biden. The measured values are kept in
`tests/fixtures/faces/calibration.json`; `tests/unit/test_calibration.py` re-measures them and checks that
every mark separates its two sides.

* Identity noise: an edit of one photo (crops of 4–15 %, a square crop around the face, a mirror, JPEG,
  brightness, half size, a 5° turn) moves the embedding by up to 0.24 (a mirror moves it most). A
  different photo of the same person is 0.33–0.44 away; another person is 0.70 or more.
* Appearance of the aligned face and its surroundings (normalised correlation, mirrored too): at least
  0.78 for an edit of the same photo, at most 0.30 for any other photo, of the same person or not.
* Spread of five probes (mean pairwise distance): at most 0.21 for five edits of one picture, 0.38 for
  three different photos of one person.
* The 0–100 scale (50 = the same-person distance to the set's centre) on a wider set of 77 real photos
  of 21 people: a different photo of the same person scores 57–80, other people under 47, look-alikes
  50–58, and a copy of a training photo 90 or more.
"""

from __future__ import annotations

from dataclasses import dataclass

# the likeness scale
SAME_PERSON_SCORE = 50.0  # the face model's same-person distance to the centre of the set
# copying: the identity far below a person's own photo-to-photo spread, and the same picture around it
COPY_DISTANCE = 0.285 / 0.6  # × same-person distance: above every edit (0.24), below new photos (0.33)
COPY_APPEARANCE = 0.55  # correlation of the aligned faces: below every edit (0.78), above others (0.30)
# collapse: the probes barely spread more than edits of one picture do
COLLAPSE_SPREAD = 0.28 / 0.6  # × same-person distance: above five edits (0.21), below new photos (0.38)
COLLAPSE_MIN_FACES = 3
# faces: a checkpoint whose probes show too few faces cannot be judged
MIN_FACE_SHARE = 0.6  # 3 of 5 probes
# a photo this many points below its own set's typical score is an odd one out, even above the mark
# (a look-alike sits 11–27 points below the rest of its set)
ODD_ONE_OUT_GAP = 10.0
ODD_ONE_OUT_MIN_FACES = 4  # with fewer, "typical" is not known
NEAR_MARK = 10.0  # a pick this close to the same-person mark says so
COPY_SUSPICION = 85.0  # from here a score is more likely a copy than a better likeness


@dataclass(frozen=True)
class Band:
    lowest: float  # the band starts here (inclusive) on the 0–100 scale
    words: str
    advice: str


BANDS = (
    Band(0.0, "not them", "The face model does not take this for the same person."),
    Band(45.0, "some resemblance", "Near the same-person mark: a look-alike scores here too."),
    Band(55.0, "looks like them", "A different photo of the same person typically scores 57–80."),
    Band(
        COPY_SUSPICION, "very close: check it is not copying a photo", "Copies of a training photo score 90+."
    ),
)


def band(score: float) -> Band:
    return next(b for b in reversed(BANDS) if score >= b.lowest)


def in_words(score: float | None) -> str:
    """ "73/100 — looks like them"; None reads "no face found"."""
    if score is None:
        return "no face found"
    return f"{score:.0f}/100 — {band(score).words}"


def margin_note(score: float) -> str:
    """A few words when a score sits near a mark ("only 4 points above the same-person mark of 50"), else
    ""."""
    gap = score - SAME_PERSON_SCORE
    if 0 <= gap < NEAR_MARK:
        return f"only {_points(gap)} above the same-person mark of {SAME_PERSON_SCORE:.0f}"
    if -NEAR_MARK < gap < 0:
        return f"{_points(-gap)} below the same-person mark of {SAME_PERSON_SCORE:.0f}"
    if score >= COPY_SUSPICION:
        return "close enough to be a copy of a training photo: look at the samples"
    return ""


def _points(value: float) -> str:
    return f"{value:.0f} point{'' if round(value) == 1 else 's'}"


def scale_sentence() -> str:
    """What the numbers mean, for the report and the UI."""
    return (
        "0–100, where 50 is the face model's same-person mark. Under 45: not them; 45–55: some resemblance "
        "(look-alikes score here); 55–85: looks like them (a different photo of the same person is "
        "typically 57–80); 85 and above: very close — check it is not copying a training photo. "
        "Higher is not always better."
    )
