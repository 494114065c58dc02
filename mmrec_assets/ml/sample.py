"""A synthetic product catalogue in the Rakuten France challenge layout.

The real challenge data cannot be shipped with the project, so this module writes a small,
deterministic stand-in with the same files and columns: ``X.csv`` and ``Y.csv`` with an unnamed
index column, one JPEG per product under ``images/``, and an ``unlabelled/`` set without labels.

The signal is built so that neither modality alone can name the class. The 27 classes are
numbered in code order and split two ways: text group ``i // 3`` decides which vocabulary a
product's words come from, image group ``i % 9`` decides what its picture looks like. Each pair
of groups holds exactly one class, so a model has to combine both to be sure. About a third of
the rows (35%) carry a class-specific word, and independently about a third carry a
class-specific mark in the picture, which gives each modality some reach inside its groups. Seven
rows in a hundred take their words, and independently their picture, from a wrong group, so that
nothing is perfect.

With the default row counts and a 30% hold-out, a logistic regression on TF-IDF features of the
text names the class of about half the rows; one on 8x8 colour thumbnails also names about half,
and the image group of about nine in ten; one on both together names over 80%.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageChops, ImageDraw

logger = logging.getLogger(__name__)

PRDTYPECODES: tuple[int, ...] = (
    10,
    40,
    50,
    60,
    1140,
    1160,
    1180,
    1280,
    1281,
    1300,
    1301,
    1302,
    1320,
    1560,
    1920,
    1940,
    2060,
    2220,
    2280,
    2403,
    2462,
    2522,
    2582,
    2583,
    2585,
    2705,
    2905,
)

_TEXT_GROUP_COUNT = 9
_IMAGE_GROUP_COUNT = 9

_CLASS_WORD_RATE = 0.35
_IMAGE_MARK_RATE = 0.35
_TEXT_NOISE_RATE = 0.07
_IMAGE_NOISE_RATE = 0.07
_EMPTY_DESCRIPTION_RATE = 0.35
_GRAYSCALE_RATE = 0.02
_JPEG_QUALITY = 85
# Largest shifts, in grey levels, from sensor grain and from light falling from one side.
_GRAIN = 8
_LIGHT = 20


def _listed(words: str) -> tuple[str, ...]:
    """Split a comma-separated word list, which reads more compactly than a tuple literal."""
    return tuple(words.split(", "))


# Each vocabulary blends the themes of the three real categories that share a text group, so
# the words say which group a product is in but not which of its three classes.
_GROUP_WORDS: tuple[tuple[str, ...], ...] = (
    _listed(
        "livre, roman, jeu vidéo, console, cartouche, édition, auteur, pages, poche, version, "
        "collector, boîtier, notice, jaquette, PAL, tome, broché, éditeur, aventure, nintendo, "
        "playstation, sega, rétro, chapitre, manette, câble"
    ),
    _listed(
        "figurine, carte, booster, collection, vinyle, manga, personnage, statuette, deck, rare, "
        "holographique, héros, socle, licence, officielle, pokémon, dragon, anime, résine, "
        "articulée, blister, scellé, portable, écran, manettes, rétroéclairé"
    ),
    _listed(
        "jouet, enfant, poupée, plateau, dés, pion, règle, joueurs, partie, stratégie, famille, "
        "peluche, éveil, puzzle, société, ambiance, armée, miniature, peinture, construction, "
        "blocs, ludique, éducatif, extension, soldats, garçon"
    ),
    _listed(
        "drone, radiocommandé, hélice, batterie, télécommande, moteur, vitesse, chaussettes, "
        "coton, pointure, paire, trampoline, balançoire, toboggan, ballon, plein air, maquette, "
        "échelle, voiture, avion, bateau, cerf-volant, filet, sport, pêche, tout-terrain"
    ),
    _listed(
        "bébé, poussette, biberon, tétine, naissance, lit, matelas, meuble, table, chaise, "
        "bois massif, étagère, commode, tiroir, coussin, housse, oreiller, couette, drap, rideau, "
        "canapé, chambre, salon, velours, rangement, nid d'ange"
    ),
    _listed(
        "café, thé, chocolat, épicerie, bio, bonbons, saveur, capsules, sachet, décoration, "
        "lampe, guirlande, bougie, vase, cadre, led, sticker, mural, chien, chat, collier, "
        "laisse, croquettes, niche, griffoir, aquarium"
    ),
    _listed(
        "magazine, revue, numéro, journal, hebdomadaire, abonnement, bd, bande dessinée, album, "
        "volumes, série complète, astérix, tintin, spirou, jeux, ps4, xbox, switch, disque, "
        "boîte d'origine, testé, fonctionne, complet, occasion, exemplaire, couverture"
    ),
    _listed(
        "cahier, stylo, papeterie, agenda, feutres, classeur, crayons, bureau, jardin, parasol, "
        "transat, terrasse, tressé, aluminium, piscine, spa, filtration, pompe, chlore, bâche, "
        "liner, hors-sol, skimmer, gonflable, bassin, enveloppes"
    ),
    _listed(
        "outil, tondeuse, sécateur, arrosage, tuyau, bêche, râteau, potager, graines, "
        "débroussailleuse, ouvrage, préface, lecture, récit, essai, biographie, histoire, "
        "téléchargement, steam, pc, windows, clé, activation, dlc, numérique, extensions"
    ),
)

# One word per class, in PRDTYPECODES order, found in no vocabulary above.
_CLASS_WORDS: tuple[str, ...] = _listed(
    "bouquiniste, japon, adaptateur, hdmi, funko, trading, wargame, playmobil, coopératif, "
    "quadricoptère, antidérapantes, badminton, babyphone, scandinave, taie, dégustation, noël, "
    "vétérinaire, parution, dédicace, rayure, ramette, pergola, hivernage, élagage, inédit, "
    "uplay"
)

# Words every group uses alike: they carry no signal, as in any real catalogue.
_COMMON_WORDS: tuple[str, ...] = _listed(
    "neuf, nouveau, qualité, original, idéal, parfait, pratique, solide, léger, élégant, "
    "garanti, authentique, cadeau, modèle, marque, couleur, noir, blanc, rouge, bleu, vert, "
    "rose, gris, grand, petit, haut de gamme"
)

_SIZE_UNITS: tuple[str, ...] = ("cm", "mm", "m")
_AMOUNT_UNITS: tuple[str, ...] = ("g", "kg", "ml", "L", "W", "V", "mAh", "Go", "pièces")

_OPENERS: tuple[str, ...] = (
    "Découvrez",
    "Profitez de",
    "Offrez",
    "Voici",
    "Idéal pour",
    "Parfait avec",
    "Très beau",
    "Superbe",
)

_CLOSERS: tuple[str, ...] = (
    "Livraison rapide et soignée.",
    "Expédié sous 48h !",
    "Produit garanti 2 ans.",
    "Photos non contractuelles.",
    "Satisfait ou remboursé...",
    "Stock limité, n'attendez pas !",
    "Emballage d'origine & notice en français.",
    "Envoi suivi ; paiement sécurisé.",
)

# HTML entities as catalogue exports write them. Ampersands go first so that the entities
# added afterwards are not escaped a second time.
_ENTITIES: tuple[tuple[str, str], ...] = (
    ("&", "&amp;"),
    ("é", "&eacute;"),
    ("è", "&egrave;"),
    ("ê", "&ecirc;"),
    ("à", "&agrave;"),
    ("ç", "&ccedil;"),
    ("ô", "&ocirc;"),
    ("'", "&#39;"),
    (" :", "&nbsp;:"),
)


@dataclass(frozen=True)
class _Look:
    """What the pictures of one image group look like."""

    background: tuple[int, int, int]
    foreground: tuple[int, int, int]
    shape: str


# Background colours sit far apart in RGB so that average colour alone separates the groups;
# the shapes add coarse texture on top.
_LOOKS: tuple[_Look, ...] = (
    _Look((30, 60, 170), (245, 205, 40), "disc"),
    _Look((190, 35, 35), (240, 240, 225), "box"),
    _Look((40, 150, 60), (120, 40, 150), "triangle"),
    _Look((245, 145, 30), (20, 30, 80), "hstripes"),
    _Look((195, 195, 195), (0, 120, 130), "vstripes"),
    _Look((245, 160, 200), (20, 95, 40), "diagonals"),
    _Look((110, 70, 40), (90, 220, 235), "ring"),
    _Look((25, 25, 30), (175, 235, 50), "cross"),
    _Look((250, 240, 205), (165, 40, 30), "dots"),
)

# The class mark tells the three classes of one image group apart: its corner and colours
# depend on i // 9. An outer and an inner colour keep it visible on every background.
_MARKS: tuple[tuple[str, tuple[int, int, int], tuple[int, int, int]], ...] = (
    ("top_left", (235, 0, 235), (255, 255, 255)),
    ("top_right", (255, 255, 255), (0, 0, 0)),
    ("bottom_right", (0, 0, 0), (255, 230, 0)),
)

_NOT_A_JPEG = (
    b"<html><head><title>503 Service Unavailable</title></head>\n"
    b"<body><h1>Service Unavailable</h1><p>The image server is busy.</p></body></html>\n"
)


@dataclass(frozen=True)
class SampleSummary:
    """What `generate_sample` wrote.

    Attributes:
        root: The folder holding ``X.csv``, ``Y.csv``, ``images/`` and ``unlabelled/``.
        labelled_rows: Rows in ``X.csv`` and ``Y.csv``.
        unlabelled_rows: Rows in ``unlabelled/X.csv``.
        missing_images: Labelled rows whose image file was deliberately left out.
        corrupt_images: Labelled rows whose image file is deliberately not a decodable JPEG.
    """

    root: Path
    labelled_rows: int
    unlabelled_rows: int
    missing_images: int
    corrupt_images: int


@dataclass(frozen=True)
class _Plan:
    """Everything about a set of rows that is drawn before any text or pixel is made."""

    index: np.ndarray
    productid: np.ndarray
    imageid: np.ndarray
    class_index: np.ndarray
    text_group: np.ndarray
    image_group: np.ndarray
    class_word: np.ndarray
    image_mark: np.ndarray
    empty_description: np.ndarray
    grayscale: np.ndarray


def generate_sample(
    out_dir: Path,
    rows_per_class: int = 40,
    unlabelled_rows: int = 60,
    image_px: int = 500,
    seed: int = 0,
    defects: bool = True,
) -> SampleSummary:
    """Write a synthetic catalogue in the Rakuten challenge layout.

    The folder is built next to ``out_dir`` and renamed into place at the end, so ``out_dir``
    either holds a complete sample or does not exist. The same arguments always give the same
    bytes.

    Args:
        out_dir: Folder to create. Its parent is created if needed.
        rows_per_class: Labelled products for each of the 27 product type codes.
        unlabelled_rows: Products in the unlabelled set, spread evenly over the classes.
        image_px: Width and height of every image in pixels, at least 32.
        seed: Seed for every random choice.
        defects: Whether to leave out one labelled and one unlabelled image file and to
            replace one labelled image with bytes that are not a JPEG.

    Returns:
        Where the sample went and how many rows and defects it holds.

    Raises:
        FileExistsError: If ``out_dir`` already exists.
        ValueError: If a size argument is out of range.
    """
    out_dir = Path(out_dir)
    if rows_per_class < 1:
        raise ValueError(f"rows_per_class must be at least 1, got {rows_per_class}")
    if unlabelled_rows < 0:
        raise ValueError(f"unlabelled_rows must not be negative, got {unlabelled_rows}")
    if image_px < 32:
        raise ValueError(f"image_px must be at least 32, got {image_px}")
    if out_dir.exists():
        raise FileExistsError(f"sample folder already exists: {out_dir}")

    labelled_count = rows_per_class * len(PRDTYPECODES)
    labelled_classes = np.repeat(np.arange(len(PRDTYPECODES)), rows_per_class)
    unlabelled_classes = np.arange(unlabelled_rows) % len(PRDTYPECODES)
    labelled, unlabelled = _plan_rows(seed, labelled_classes, unlabelled_classes)

    # Defects are drawn from their own stream so that switching them off changes nothing else.
    defect_rng = np.random.default_rng([seed, 3])
    missing_at: set[int] = set()
    corrupt_at: set[int] = set()
    unlabelled_missing_at: set[int] = set()
    if defects:
        # Defects fall on colour pictures, so that every sample keeps its grey ones.
        colour_rows = np.flatnonzero(~labelled.grayscale)
        first, second = defect_rng.choice(colour_rows, size=2, replace=False)
        missing_at, corrupt_at = {int(first)}, {int(second)}
        colour_rows = np.flatnonzero(~unlabelled.grayscale)
        if len(colour_rows):
            unlabelled_missing_at = {int(defect_rng.choice(colour_rows))}

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        _write_set(work, labelled, seed, 0, image_px, missing_at, corrupt_at, with_labels=True)
        _write_set(
            work / "unlabelled",
            unlabelled,
            seed,
            labelled_count,
            image_px,
            unlabelled_missing_at,
            set(),
            with_labels=False,
        )
        record = {
            "generator": __name__,
            "arguments": {
                "rows_per_class": rows_per_class,
                "unlabelled_rows": unlabelled_rows,
                "image_px": image_px,
                "seed": seed,
                "defects": defects,
            },
            "prdtypecodes": list(PRDTYPECODES),
            "labelled_rows": labelled_count,
            "unlabelled_rows": unlabelled_rows,
            "missing_images": len(missing_at),
            "corrupt_images": len(corrupt_at),
            "unlabelled_missing_images": len(unlabelled_missing_at),
            "grayscale_images": int(labelled.grayscale.sum() + unlabelled.grayscale.sum()),
        }
        (work / "SAMPLE.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

        # A folder that appeared while we were writing must not be replaced: on Linux a rename
        # silently takes the place of an empty directory.
        if out_dir.exists():
            raise FileExistsError(f"sample folder already exists: {out_dir}")
        os.rename(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

    logger.info(
        "Wrote a synthetic sample of %d labelled and %d unlabelled products to %s",
        labelled_count,
        unlabelled_rows,
        out_dir,
    )
    return SampleSummary(
        root=out_dir,
        labelled_rows=labelled_count,
        unlabelled_rows=unlabelled_rows,
        missing_images=len(missing_at),
        corrupt_images=len(corrupt_at),
    )


def _plan_rows(
    seed: int, labelled_classes: np.ndarray, unlabelled_classes: np.ndarray
) -> tuple[_Plan, _Plan]:
    """Draw ids, groups and flags for both sets at once, so that no id is used twice."""
    rng = np.random.default_rng([seed, 1])
    labelled_count = len(labelled_classes)
    classes = np.concatenate([labelled_classes, unlabelled_classes]).astype(np.int64)
    total = len(classes)

    # Rows come out shuffled, with scattered row numbers like an extract of a larger table.
    order = np.concatenate(
        [rng.permutation(labelled_count), labelled_count + rng.permutation(total - labelled_count)]
    )
    classes = classes[order]
    index = rng.choice(10 * total + 100, size=total, replace=False)
    productid = _distinct_ints(rng, 10_000_000, 4_300_000_000, total)
    imageid = _distinct_ints(rng, 100_000_000, 1_400_000_000, total)

    text_group = classes // (len(PRDTYPECODES) // _TEXT_GROUP_COUNT)
    image_group = classes % _IMAGE_GROUP_COUNT
    # Fixed shares of each set rather than a coin per row: the balance between text and image
    # then does not drift with the seed, and even a tiny sample has a grey picture.
    sets = (labelled_count, total - labelled_count)
    text_group = _swap_some(rng, text_group, _TEXT_GROUP_COUNT, _share(rng, sets, _TEXT_NOISE_RATE))
    image_group = _swap_some(
        rng, image_group, _IMAGE_GROUP_COUNT, _share(rng, sets, _IMAGE_NOISE_RATE)
    )
    class_word = _share(rng, sets, _CLASS_WORD_RATE)
    image_mark = _share(rng, sets, _IMAGE_MARK_RATE)
    empty_description = _share(rng, sets, _EMPTY_DESCRIPTION_RATE)
    grayscale = _share(rng, sets, _GRAYSCALE_RATE, at_least_one=True)

    def part(lo: int, hi: int) -> _Plan:
        return _Plan(
            index=index[lo:hi],
            productid=productid[lo:hi],
            imageid=imageid[lo:hi],
            class_index=classes[lo:hi],
            text_group=text_group[lo:hi],
            image_group=image_group[lo:hi],
            class_word=class_word[lo:hi],
            image_mark=image_mark[lo:hi],
            empty_description=empty_description[lo:hi],
            grayscale=grayscale[lo:hi],
        )

    return part(0, labelled_count), part(labelled_count, total)


def _distinct_ints(rng: np.random.Generator, low: int, high: int, count: int) -> np.ndarray:
    """Draw ``count`` distinct integers in ``[low, high)`` in random order."""
    values: dict[int, None] = {}
    while len(values) < count:
        for value in rng.integers(low, high, size=count - len(values)).tolist():
            values.setdefault(value, None)
    return np.fromiter(values, dtype=np.int64, count=count)


def _share(
    rng: np.random.Generator, sizes: tuple[int, ...], rate: float, at_least_one: bool = False
) -> np.ndarray:
    """Flag ``round(rate * size)`` random rows in each of consecutive sets of rows."""
    flags = np.zeros(sum(sizes), dtype=bool)
    start = 0
    for size in sizes:
        count = round(rate * size)
        if at_least_one and size:
            count = max(1, count)
        flags[start + rng.choice(size, size=count, replace=False)] = True
        start += size
    return flags


def _swap_some(
    rng: np.random.Generator, groups: np.ndarray, count: int, swapped: np.ndarray
) -> np.ndarray:
    """Move the flagged rows to a group other than their own, chosen uniformly."""
    shift = rng.integers(1, count, size=len(groups))
    return np.where(swapped, (groups + shift) % count, groups)


def _write_set(
    folder: Path,
    plan: _Plan,
    seed: int,
    offset: int,
    image_px: int,
    missing_at: set[int],
    corrupt_at: set[int],
    with_labels: bool,
) -> None:
    """Write one set's CSV files and images into ``folder``."""
    images = folder / "images"
    images.mkdir(parents=True)

    rows = len(plan.index)
    designations: list[str] = []
    descriptions: list[str] = []
    for row in range(rows):
        rng = np.random.default_rng([seed, 2, offset + row])
        own_word = _CLASS_WORDS[plan.class_index[row]] if plan.class_word[row] else None
        designation, description = _product_text(
            rng, int(plan.text_group[row]), own_word, bool(plan.empty_description[row])
        )
        designations.append(designation)
        descriptions.append(description)

    frame = pd.DataFrame(
        {
            "designation": designations,
            "description": descriptions,
            "productid": plan.productid,
            "imageid": plan.imageid,
        },
        index=pd.Index(plan.index),
    )
    frame.to_csv(folder / "X.csv", lineterminator="\n")
    if with_labels:
        codes = np.asarray(PRDTYPECODES, dtype=np.int64)[plan.class_index]
        labels = pd.DataFrame({"prdtypecode": codes}, index=pd.Index(plan.index))
        labels.to_csv(folder / "Y.csv", lineterminator="\n")

    # One field of sensor grain, twice the image size, that each picture crops at its own
    # offset: drawing fresh noise for every picture costs more than everything else together.
    grain_rng = np.random.default_rng([seed, 5, offset])
    grain = grain_rng.integers(
        0, 2 * _GRAIN + 1, size=(2 * image_px, 2 * image_px, 3), dtype=np.uint8
    )

    def write_image(row: int) -> None:
        if row in missing_at:
            return
        path = images / f"image_{plan.imageid[row]}_product_{plan.productid[row]}.jpg"
        if row in corrupt_at:
            path.write_bytes(_NOT_A_JPEG)
            return
        rng = np.random.default_rng([seed, 4, offset + row])
        mark = int(plan.class_index[row]) // _IMAGE_GROUP_COUNT if plan.image_mark[row] else None
        picture = _product_image(rng, image_px, int(plan.image_group[row]), mark, grain)
        if plan.grayscale[row]:
            picture = picture.convert("L")
        picture.save(path, format="JPEG", quality=_JPEG_QUALITY)

    # Each image has its own seed and file, so the thread schedule cannot change any byte;
    # Pillow and numpy release the GIL for the heavy parts.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(write_image, range(rows)))


def _product_text(
    rng: np.random.Generator, group: int, class_word: str | None, empty_description: bool
) -> tuple[str, str]:
    """Make a designation and an HTML description from one group's vocabulary."""
    vocabulary = _GROUP_WORDS[group]

    def words(count: int) -> list[str]:
        return [vocabulary[k] for k in rng.choice(len(vocabulary), size=count, replace=False)]

    def common() -> str:
        return _COMMON_WORDS[rng.integers(len(_COMMON_WORDS))]

    def amount(units: tuple[str, ...] = _AMOUNT_UNITS) -> str:
        unit = units[rng.integers(len(units))]
        if rng.random() < 0.3:
            return f"{rng.integers(1, 10)},{rng.integers(1, 10)} {unit}"
        return f"{rng.integers(1, 500)} {unit}"

    head = words(int(rng.integers(3, 6)))
    style = int(rng.integers(5))
    if style == 0:
        designation = f"{head[0]} {head[1]} {common()} - {amount()}"
    elif style == 1:
        designation = f"{' '.join(head)} {common()} ({amount()})"
    elif style == 2:
        designation = f"Lot de {rng.integers(2, 13)} {head[0]} {head[1]} {common()}"
    elif style == 3:
        designation = f"{head[0]} - {' '.join(head[1:])} {common()} dès {rng.integers(1, 15)} ans"
    else:
        designation = f"{head[0]} {head[1]} & {head[2]} {common()}, {amount()}"

    if class_word is not None:
        parts = designation.split(" ")
        parts.insert(int(rng.integers(1, len(parts) + 1)), class_word)
        designation = " ".join(parts)
    designation = designation[0].upper() + designation[1:]

    if empty_description:
        return designation, ""

    body = words(int(rng.integers(4, 8)))
    opener = _OPENERS[rng.integers(len(_OPENERS))]
    closer = _CLOSERS[rng.integers(len(_CLOSERS))]
    if class_word is not None and rng.random() < 0.5:
        body.insert(int(rng.integers(len(body) + 1)), class_word)
    pieces = [f"<p>{opener} ce {body[0]} {common()} : {body[1]} et {body[2]}.</p>"]
    if rng.random() < 0.6:
        items = "".join(f"<li>{word} {common()}</li>" for word in body[3:])
        pieces.append(f"<b>Caractéristiques :</b><ul>{items}</ul>")
    else:
        pieces.append(
            f"{' '.join(body[3:])}, {common()} ; dimensions : {amount(_SIZE_UNITS)}<br />"
        )
    if rng.random() < 0.5:
        pieces.append(f"<b>Contenu :</b> {body[0]} x{rng.integers(1, 5)}, {amount()}<br />")
    pieces.append(closer)
    description = " ".join(pieces)

    # Half the descriptions come through with accents escaped, as many real exports do.
    if rng.random() < 0.5:
        for plain, entity in _ENTITIES:
            description = description.replace(plain, entity)
    return designation, description


def _product_image(
    rng: np.random.Generator, size: int, group: int, mark: int | None, grain: np.ndarray
) -> Image.Image:
    """Draw one product picture in the look of an image group, with an optional class mark.

    ``grain`` is a field of values in ``[0, 2 * _GRAIN]`` at least twice ``size`` on each side.
    """
    look = _LOOKS[group]
    background = _jitter(rng, look.background)
    foreground = _jitter(rng, look.foreground)
    picture = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(picture)

    extent = size * rng.uniform(0.3, 0.6)
    cx, cy = rng.uniform(0.3, 0.7, size=2) * size
    left, top, right, bottom = cx - extent / 2, cy - extent / 2, cx + extent / 2, cy + extent / 2
    band = max(2, int(size * rng.uniform(0.04, 0.08)))
    if look.shape == "disc":
        draw.ellipse((left, top, right, bottom), fill=foreground)
    elif look.shape == "box":
        draw.rectangle((left, top + extent / 5, right, bottom), fill=foreground)
    elif look.shape == "triangle":
        draw.polygon(((cx, top), (right, bottom), (left, bottom)), fill=foreground)
    elif look.shape == "hstripes":
        for y in range(int(rng.integers(band)), size, 3 * band):
            draw.rectangle((0, y, size, y + band), fill=foreground)
    elif look.shape == "vstripes":
        for x in range(int(rng.integers(band)), size, 3 * band):
            draw.rectangle((x, 0, x + band, size), fill=foreground)
    elif look.shape == "diagonals":
        for x in range(-size, size, 3 * band):
            draw.line((x, 0, x + size, size), fill=foreground, width=band)
    elif look.shape == "ring":
        draw.ellipse((left, top, right, bottom), outline=foreground, width=2 * band)
    elif look.shape == "cross":
        draw.rectangle((cx - band, top, cx + band, bottom), fill=foreground)
        draw.rectangle((left, cy - band, right, cy + band), fill=foreground)
    else:
        step = 4 * band
        for y in range(band, size, step):
            for x in range(band + (y // step % 2) * 2 * band, size, step):
                draw.ellipse((x - band, y - band, x + band, y + band), fill=foreground)

    if mark is not None:
        corner, outer, inner = _MARKS[mark]
        side = int(size * rng.uniform(0.15, 0.18))
        gap = int(size * 0.03)
        x0 = gap if corner == "top_left" else size - gap - side
        y0 = size - gap - side if corner == "bottom_right" else gap
        draw.rectangle((x0, y0, x0 + side, y0 + side), fill=outer)
        rim = max(1, side // 4)
        draw.rectangle((x0 + rim, y0 + rim, x0 + side - rim, y0 + side - rim), fill=inner)

    # Light from one side and sensor grain, so that no two pictures are alike. Both go in with
    # one saturating add in Pillow: a numpy round trip per picture would dominate the run time.
    strength = int(rng.integers(_LIGHT + 1))
    ramp = np.linspace(0, 2 * strength, size).astype(np.uint8)
    direction = int(rng.integers(4))
    if direction % 2:
        ramp = ramp[::-1]
    ramp = ramp[:, None, None] if direction < 2 else ramp[None, :, None]
    x, y = rng.integers(size, size=2)
    shading = Image.fromarray(grain[y : y + size, x : x + size] + ramp)
    return ImageChops.add(picture, shading, offset=-(_GRAIN + strength))


def _jitter(rng: np.random.Generator, colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """Shift each channel of a colour by a small random amount."""
    shifted = np.clip(np.asarray(colour) + rng.integers(-25, 26, size=3), 0, 255)
    return (int(shifted[0]), int(shifted[1]), int(shifted[2]))
